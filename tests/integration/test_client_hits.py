"""The link page's per-address counter in the database: every process that counts on
the same database sees the others' hits, at once and under concurrency, and windows
that are over are pruned."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web.client_limits import SharedLimiter
from storage.client_hits import SharedHitCounter
from storage.tables import client_hits
from tests.conftest import Backend

T0 = datetime(2026, 11, 30, 8, 0, 5, tzinfo=UTC).timestamp()


class FixedClock:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


async def test_two_engines_count_one_limit(backend: Backend, engine: AsyncEngine) -> None:
    """Two processes' engines on one database: 40 hits at once, 20 through each, are
    counted 1..40 with none lost, so the 21st is over a limit of 20 whichever process
    took it."""
    other = backend.engine()
    try:
        counters = [SharedHitCounter(engine), SharedHitCounter(other)]
        counts = await asyncio.gather(*(counters[n % 2].hit("203.0.113.9", T0) for n in range(40)))
        assert sorted(counts) == list(range(1, 41))
        clock = FixedClock(T0)
        limiters = [SharedLimiter(counter, 42, clock) for counter in counters]  # type: ignore[arg-type]
        assert await limiters[0].hit("203.0.113.9") is None  # 41st
        assert await limiters[1].hit("203.0.113.9") is None  # 42nd
        wait = await limiters[0].hit("203.0.113.9")
        assert wait == 55.0  # until the next minute starts (T0 is 5 s into it)
        assert await limiters[1].hit("198.51.100.7") is None  # another address: its own
        clock.at += 55.0
        assert await limiters[1].hit("203.0.113.9") is None  # a new window
    finally:
        await other.dispose()


async def test_windows_that_are_over_are_pruned(engine: AsyncEngine) -> None:
    counter = SharedHitCounter(engine)
    await counter.hit("203.0.113.9", T0 - 120)
    await counter.hit("203.0.113.9", T0 - 60)
    await counter.hit("203.0.113.9", T0)
    assert await counter.prune(T0) == 2
    async with engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(client_hits))).scalar_one()
    assert left == 1
    assert await counter.hit("203.0.113.9", T0) == 2  # the current window is kept
