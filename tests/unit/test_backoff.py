"""The one backoff of background work: full jitter under an exponential ceiling that
stops at the cap, never under a provider's Retry-After."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.background.backoff import Backoff


def test_the_ceiling_doubles_from_base_and_stops_at_the_cap() -> None:
    backoff = Backoff(base=2.0, cap=300.0)
    assert [backoff.ceiling(n) for n in range(1, 11)] == [
        2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0,
    ]  # fmt: skip
    assert backoff.ceiling(10_000) == 300.0  # no overflow after a day of failures


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_delay_lies_between_zero_and_the_ceiling(attempt: int, seed: int) -> None:
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(seed))
    assert 0.0 <= backoff.delay(attempt) <= backoff.ceiling(attempt)


def test_the_delays_are_spread_over_the_whole_window() -> None:
    """Full jitter: rows that failed together do not retry together."""
    backoff = Backoff(base=2.0, cap=300.0, rng=random.Random(7))
    delays = [backoff.delay(9) for _ in range(2000)]
    assert min(delays) < 15.0
    assert max(delays) > 285.0
    assert 130.0 < sum(delays) / len(delays) < 170.0  # uniform over [0, 300]
    assert len({round(d, 3) for d in delays}) > 1900


def test_retry_after_is_a_floor() -> None:
    backoff = Backoff(base=1.0, cap=4.0, rng=random.Random(1))
    assert all(backoff.delay(3, at_least=30.0) == 30.0 for _ in range(50))
    assert all(backoff.delay(3, at_least=0.0) <= 4.0 for _ in range(50))


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_a_backoff_that_could_not_wait_is_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        Backoff(base=base, cap=cap)
