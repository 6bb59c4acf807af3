"""The SMS send rate shared through PostgreSQL (storage.outbox.send_rate): processes
booking from one schedule get distinct, evenly spaced slots, so together they send at
the rate and not at the rate times their number; a booking that would wait too long
takes nothing; an idle schedule lets a burst through."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.providers.send_rate import SharedSendRate
from storage.outbox.send_rate import SendSchedule
from tests.conftest import Backend


def postgres_only(backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("SQLite is served by one process: its in-memory bucket is the rate")


@pytest.mark.postgres
async def test_two_engines_together_send_at_the_rate(backend: Backend, engine: AsyncEngine) -> None:
    """Two processes' engines, 15 sends each at once, 20 per second, no burst: the k-th
    send (in time order) leaves no earlier than (k - 1) / 20 s after the start, as one
    process alone would send them; two in-memory buckets would send twice as fast."""
    postgres_only(backend)
    other = backend.engine()
    try:
        rates = [SharedSendRate(SendSchedule(e), 20, burst=1) for e in (engine, other)]
        await asyncio.gather(*(r.acquire() for r in rates))  # rows created, connections warm
        await asyncio.sleep(0.2)  # and idle again
        sent: list[float] = []

        async def send(rate: SharedSendRate) -> None:
            assert await rate.acquire() is None
            sent.append(time.time())

        start = time.time()
        await asyncio.gather(*(send(rates[n % 2]) for n in range(30)))
        sent.sort()
        for k, at in enumerate(sent):
            assert at >= start + k / 20 - 0.005, (k, at - start)
        assert sent[-1] - start < 29 / 20 + 1.5  # and not much slower than the rate
    finally:
        await other.dispose()


@pytest.mark.postgres
async def test_a_booking_too_far_ahead_takes_nothing(backend: Backend, engine: AsyncEngine) -> None:
    postgres_only(backend)
    schedule = SendSchedule(engine)
    first = await schedule.book(1.0, 0.0, max_wait=10.0)
    assert first is not None and first <= 0.0  # idle: now
    second = await schedule.book(1.0, 0.0, max_wait=10.0)
    assert second == pytest.approx(1.0, abs=0.1)
    assert await schedule.book(1.0, 0.0, max_wait=0.5) is None  # would wait ~2 s
    assert await schedule.ahead(0.0) == pytest.approx(2.0, abs=0.1)
    third = await schedule.book(1.0, 0.0, max_wait=10.0)
    assert third == pytest.approx(2.0, abs=0.1)  # the refused booking took no slot


@pytest.mark.postgres
async def test_an_idle_schedule_lets_a_burst_through(backend: Backend, engine: AsyncEngine) -> None:
    postgres_only(backend)
    schedule = SendSchedule(engine)
    interval, tolerance = 1.0, 4 * 1.0  # 1 per second, bursts of 5
    waits = [await schedule.book(interval, tolerance, max_wait=10.0) for _ in range(7)]
    assert all(w is not None and w <= 0.0 for w in waits[:5])
    assert waits[5] == pytest.approx(1.0, abs=0.3)
    assert waits[6] == pytest.approx(2.0, abs=0.3)


@pytest.mark.postgres
async def test_the_shared_rate_answers_how_long_it_is_booked(
    backend: Backend, engine: AsyncEngine
) -> None:
    postgres_only(backend)
    rate = SharedSendRate(SendSchedule(engine), 1.0)
    assert await rate.acquire(within=0.5) is None
    busy = await rate.acquire(within=0.5)  # the next slot is ~1 s away
    assert busy is not None and 0.3 <= busy <= 0.6


async def test_sqlite_has_no_shared_schedule(backend: Backend, engine: AsyncEngine) -> None:
    if backend.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    with pytest.raises(ValueError, match="PostgreSQL"):
        SendSchedule(engine)
