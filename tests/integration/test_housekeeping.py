"""Short-lived logs are pruned, and what still counts is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.housekeeping import prune
from storage.inbound import InboundLog, Seen
from storage.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_old_inbound_ids_and_failures_go_recent_ones_stay(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    await log.claim("sms", "old", NOW - timedelta(days=2))
    await log.claim("sms", "new", NOW - timedelta(minutes=5))
    uow_factory = SqlUnitOfWorkFactory(engine)
    async with uow_factory() as uow:
        await uow.failures.record("sms:+886960123411", NOW - timedelta(days=3))
        await uow.failures.record("sms:+886960123411", NOW - timedelta(minutes=10))
        await uow.commit()

    pruned = await prune(engine, NOW)

    assert (pruned.inbound_messages, pruned.lookup_failures) == (1, 1)
    assert await log.claim("sms", "new", NOW) == Seen(None)  # still known: a retry
    async with uow_factory() as uow:
        recent = await uow.failures.since("sms:+886960123411", NOW - timedelta(hours=1))
    assert len(recent) == 1  # the cool-down still sees it
