"""The token bucket keeps to its rate: driven by a fake clock, so no test waits."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.providers.token_bucket import TokenBucket


class FakeClock:
    """A monotonic clock that only moves when the bucket sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


def bucket(clock: FakeClock, rate: float, burst: int | None = None) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep)


def max_in_window(times: list[float], window: float) -> int:
    """The most acquisitions that fell into any half-open window of ``window`` seconds."""
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


async def test_a_full_bucket_lets_one_burst_through_without_waiting() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=2, burst=5)
    for _ in range(5):
        await tb.acquire()
    assert clock.sleeps == []
    assert clock.now == 1000.0


async def test_after_the_burst_acquisitions_are_spaced_by_one_over_rate() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=4, burst=1)
    times = []
    for _ in range(9):
        await tb.acquire()
        times.append(clock.now)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([0.25] * 8)


async def test_long_run_respects_the_rate_in_every_window() -> None:
    clock = FakeClock()
    rate, burst = 10.0, 5
    tb = bucket(clock, rate=rate, burst=burst)
    times = []
    for _ in range(200):
        await tb.acquire()
        times.append(clock.now)
    # 200 tokens = 5 up front + 195 refilled at 10/s.
    assert times[-1] - times[0] == pytest.approx((200 - burst) / rate)
    for window in (0.5, 1.0, 3.0):
        assert max_in_window(times, window) <= burst + rate * window + 1e-6


async def test_concurrent_waiters_share_the_rate_and_are_served_in_order() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=5, burst=2)
    served: list[tuple[int, float]] = []

    async def worker(n: int) -> None:
        await tb.acquire()
        served.append((n, clock.now))

    await asyncio.gather(*(worker(n) for n in range(12)))
    assert [n for n, _ in served] == list(range(12))
    times = [t for _, t in served]
    assert times[-1] - times[0] == pytest.approx((12 - 2) / 5)
    assert max_in_window(times, 1.0) <= 2 + 5


async def test_idle_time_refills_at_most_one_burst() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=1, burst=3)
    for _ in range(3):
        await tb.acquire()
    clock.now += 3600  # an hour idle
    assert tb.available == pytest.approx(3)
    for _ in range(3):
        await tb.acquire()
    before = clock.now
    await tb.acquire()
    assert clock.now - before == pytest.approx(1.0)


async def test_fractional_rates_below_one_per_second() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=0.5)  # one every two seconds; burst defaults to 1
    assert tb.burst == 1
    await tb.acquire()
    await tb.acquire()
    assert clock.now - 1000.0 == pytest.approx(2.0)


async def test_try_acquire_never_waits() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=1, burst=1)
    assert tb.try_acquire() is True
    assert tb.try_acquire() is False
    clock.now += 1
    assert tb.try_acquire() is True
    assert clock.sleeps == []


async def test_a_clock_that_steps_back_does_not_drain_the_bucket() -> None:
    clock = FakeClock()
    tb = bucket(clock, rate=1, burst=2)
    clock.now -= 50
    assert tb.available == pytest.approx(2)


def test_default_burst_is_one_seconds_worth() -> None:
    assert TokenBucket(10).burst == 10
    assert TokenBucket(2.5).burst == 2


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_rejects_a_rate_that_is_not_positive_and_finite(rate: float) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBucket(rate)


def test_rejects_an_empty_burst() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, burst=0)


async def test_a_token_too_far_off_is_refused_at_once_and_nothing_is_taken() -> None:
    """``within``: a claimed SMS must not wait past its lease; the bucket answers how
    long the token is off instead, and the next caller still gets it."""
    clock = FakeClock()
    tb = bucket(clock, rate=2, burst=1)
    assert await tb.acquire(within=0.1) is None  # the full bucket's token
    assert await tb.acquire(within=0.1) == pytest.approx(0.5)  # refused: 0.5 s away
    assert clock.sleeps == []
    assert await tb.acquire(within=0.5) is None  # the same token: it was not taken
    assert clock.now == pytest.approx(1000.5)
