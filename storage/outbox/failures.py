"""What became of verification SMS that did not arrive: the chats still to be told,
and the last delivery problem of each pass (for operators).

A verification SMS asked for on Telegram carries ``notify_to`` (the chat, or the
operator). When the row ends ``failed`` (refused, or given up when its code expired)
or ``undelivered`` (the provider's status callback), the chat is told by the
Telegram channel (:mod:`bot.telegram.delivery_notices`), through
:class:`FailureNotices`: it lists such rows, claims one before telling (stamping
``notified_at``, so a second instance leaves it alone for ``lease``), and clears
``notify_to`` once told. A chat is told once; twice only if a process dies between
the Telegram message and that last write, and then after the lease.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.values import PassNumber, Phone
from core.verification.delivery import DeliveryProblem, DeliveryState
from storage.tables import outbox, verification_requests

_PROBLEM_STATES = tuple(s.value for s in DeliveryState)


@dataclass(frozen=True, slots=True)
class FailedSms:
    """A verification SMS that did not arrive, and who asked for it."""

    id: int
    to: Phone
    request_id: str | None
    notify_to: str
    problem: DeliveryProblem


class FailureNotices:
    """Failed verification SMS whose chat has not been told yet."""

    def __init__(self, engine: AsyncEngine, lease: timedelta = timedelta(minutes=5)) -> None:
        self._engine = engine
        self._lease = lease

    def _untold(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            outbox.c.state.in_(_PROBLEM_STATES),
            outbox.c.notify_to.is_not(None),
            or_(outbox.c.notified_at.is_(None), outbox.c.notified_at <= now - self._lease),
        )

    async def due(self, now: datetime, limit: int = 20) -> list[FailedSms]:
        """Oldest first (``ix_outbox_state_notify_to`` finds them without a scan); not
        those another process is telling right now."""
        query = select(outbox).where(self._untold(now)).order_by(outbox.c.id).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            FailedSms(
                id=row.id,
                to=Phone(row.to_phone),
                request_id=row.request_id,
                notify_to=row.notify_to,
                problem=DeliveryProblem(DeliveryState(row.state), row.error_code, row.updated_at),
            )
            for row in rows
        ]

    async def claim(self, row_id: int, now: datetime) -> bool:
        """Ours to tell for ``lease``; ``False`` if another process got there first."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, self._untold(now))
                .values(notified_at=now)
            )
        return result.rowcount == 1

    async def told(self, row_id: int, now: datetime) -> None:
        """Told (or nobody left to tell): never again."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id)
                .values(notify_to=None, notified_at=now, updated_at=now)
            )


async def delivery_problems(
    conn: AsyncConnection, pass_nos: Sequence[PassNumber] | None = None
) -> dict[PassNumber, DeliveryProblem]:
    """The passes whose latest verification SMS failed or was undelivered (all passes,
    or those of ``pass_nos``). A pass whose latest SMS arrived, or is still on its
    way, has no problem to show, whatever happened to earlier ones."""
    requests = verification_requests
    latest = (
        select(requests.c.pass_no, func.max(outbox.c.id).label("id"))
        .join(requests, requests.c.id == outbox.c.request_id)
        .group_by(requests.c.pass_no)
    )
    if pass_nos is not None:
        latest = latest.where(requests.c.pass_no.in_([p.value for p in pass_nos]))
    newest = latest.subquery()
    query = (
        select(newest.c.pass_no, outbox.c.state, outbox.c.error_code, outbox.c.updated_at)
        .join(outbox, outbox.c.id == newest.c.id)
        .where(outbox.c.state.in_(_PROBLEM_STATES))
    )
    return {
        PassNumber(row.pass_no): DeliveryProblem(
            DeliveryState(row.state), row.error_code, row.updated_at
        )
        for row in await conn.execute(query)
    }
