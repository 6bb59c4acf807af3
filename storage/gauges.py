"""Figures read from the database when ``/metrics`` is scraped, never kept in memory.

The outbox queue is shared by every process on the database (each worker claims from
it), and so are the campaigns (any instance's dispatcher sends them): the queue's
depth, the age of its oldest waiting row and each campaign's targets by state are facts
of the database, not of a process. Any process reads the same figures, and a restart
resets nothing.

One statement: the rows still to send (``pending``, ``sending``) counted by state and
priority on the ``(state, priority, next_attempt_at)`` index, never reading the sent
history; and for each group the ``created_at`` of its first row (the lowest id: rows are
queued in time order), one primary-key lookup per group instead of reading the
``created_at`` of every waiting row, which a campaign's backlog of 100,000 made several
times slower.

A second statement counts the targets of the campaigns not yet over (planned, running,
paused) by state, on the targets' primary key; finished campaigns drop out of the
metrics (their report stays in ``portpass campaign report``).

Counting is still linear in the backlog. On SQLite the statement therefore runs in a
worker thread on a connection of its own, outside any transaction: the app's one
connection (:func:`storage.db.create_engine`) runs on the event loop and takes the write
lock with ``BEGIN IMMEDIATE``, so a scrape there would stall every webhook for as long
as it counts. A plain read in WAL mode blocks no writer and waits for none, and
``sqlite3`` lets the event loop run while SQLite works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.tables import campaign_targets, campaigns, outbox

#: The states of a row still to be sent: waiting for its turn or a retry, or claimed.
QUEUED_STATES = ("pending", "sending")

_groups = (
    select(
        outbox.c.state,
        outbox.c.priority,
        func.count().label("rows"),
        func.min(outbox.c.id).label("first_id"),
    )
    .where(outbox.c.state.in_(QUEUED_STATES))
    .group_by(outbox.c.state, outbox.c.priority)
    .subquery("queued")
)
_first = outbox.alias("first")
DEPTH_QUERY: Select[tuple[str, int, int, datetime]] = select(
    _groups.c.state, _groups.c.priority, _groups.c.rows, _first.c.created_at.label("oldest")
).join_from(_groups, _first, _first.c.id == _groups.c.first_id)


#: Campaigns whose progress is still news (core.campaigns.model.CampaignState).
OPEN_CAMPAIGN_STATES = ("planned", "running", "paused")

CAMPAIGNS_QUERY: Select[tuple[int, str, int]] = (
    select(campaign_targets.c.campaign_id, campaign_targets.c.state, func.count().label("targets"))
    .join_from(campaign_targets, campaigns, campaigns.c.id == campaign_targets.c.campaign_id)
    .where(campaigns.c.state.in_(OPEN_CAMPAIGN_STATES))
    .group_by(campaign_targets.c.campaign_id, campaign_targets.c.state)
)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Rows of one state and priority still to send, and when the first was queued."""

    state: str
    priority: int
    rows: int
    oldest: datetime


@dataclass(frozen=True, slots=True)
class CampaignTargets:
    """How many of a campaign's targets are in one state (excluded, queued, sent,
    skipped: core.campaigns.model.TargetState)."""

    campaign_id: int
    state: str
    targets: int


@dataclass(frozen=True, slots=True)
class Gauges:
    """Everything one scrape reads from the database (only groups that have rows)."""

    outbox: list[QueueDepth]
    campaigns: list[CampaignTargets]


async def read_gauges(engine: AsyncEngine) -> Gauges:
    """The outbox rows still to send by state and priority, and the open campaigns'
    targets by state."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        return await asyncio.to_thread(_sqlite_gauges, str(database))
    async with engine.connect() as conn:
        depth = (await conn.execute(DEPTH_QUERY)).all()
        targets = (await conn.execute(CAMPAIGNS_QUERY)).all()
    return _gauges(depth, targets)


def _sqlite_gauges(database: str) -> Gauges:
    """The queries on a short-lived connection of this thread's own (no pool: a scrape
    comes every few seconds; opening a SQLite file takes well under a millisecond)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{database}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _gauges(conn.execute(DEPTH_QUERY).all(), conn.execute(CAMPAIGNS_QUERY).all())
    finally:
        engine.dispose()


def _gauges(
    depth: Sequence[Row[tuple[str, int, int, datetime]]],
    targets: Sequence[Row[tuple[int, str, int]]],
) -> Gauges:
    return Gauges(
        outbox=[QueueDepth(row.state, row.priority, row.rows, row.oldest) for row in depth],
        campaigns=[CampaignTargets(r.campaign_id, r.state, r.targets) for r in targets],
    )
