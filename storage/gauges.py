"""Figures read from the database when ``/metrics`` is scraped, never kept in memory.

The outbox queue is shared by every process on the database (each worker claims from
it), so its depth and the age of its oldest waiting row are facts of the database, not
of a process: any process reads the same figures, and a restart resets nothing. One
grouped query over the rows still to send (``pending``, ``sending``), which the
``(state, priority, next_attempt_at)`` index finds without reading the sent history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import outbox

#: The states of a row still to be sent: waiting for its turn or a retry, or claimed.
QUEUED_STATES = ("pending", "sending")

_DEPTH = (
    select(
        outbox.c.state,
        outbox.c.priority,
        func.count().label("rows"),
        func.min(outbox.c.created_at).label("oldest"),
    )
    .where(outbox.c.state.in_(QUEUED_STATES))
    .group_by(outbox.c.state, outbox.c.priority)
)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Rows of one state and priority still to send, and when the oldest was queued."""

    state: str
    priority: int
    rows: int
    oldest: datetime


async def outbox_depth(engine: AsyncEngine) -> list[QueueDepth]:
    """The outbox rows still to send, by state and priority (only groups that have rows)."""
    async with engine.connect() as conn:
        result = await conn.execute(_DEPTH)
        return [QueueDepth(row.state, row.priority, row.rows, row.oldest) for row in result]
