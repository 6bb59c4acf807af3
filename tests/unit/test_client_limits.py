"""The per-address limit on the link page: a burst of ``limit``, then ``limit`` per
period, separately per key, in bounded memory; driven by a clock the test moves."""

from __future__ import annotations

import pytest

from bot.web.client_limits import ClientLimiter, address_key, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_burst_of_limit_then_a_wait(clock: Clock) -> None:
    limiter = ClientLimiter(20, 60.0, clock=clock)
    assert all(limiter.hit("1.2.3.4") is None for _ in range(20))
    wait = limiter.hit("1.2.3.4")
    assert wait == pytest.approx(3.0)  # one token per 60/20 seconds
    clock.now += 3.0
    assert limiter.hit("1.2.3.4") is None
    assert limiter.hit("1.2.3.4") == pytest.approx(3.0)


def test_refused_requests_do_not_push_the_wait_further(clock: Clock) -> None:
    limiter = ClientLimiter(2, 10.0, clock=clock)
    limiter.hit("a"), limiter.hit("a")
    for _ in range(50):
        assert limiter.hit("a") == pytest.approx(5.0)


def test_a_steady_client_gets_limit_per_period(clock: Clock) -> None:
    limiter = ClientLimiter(20, 60.0, clock=clock)
    allowed = 0
    for _ in range(600):  # ten minutes, one try per second
        allowed += limiter.hit("a") is None
        clock.now += 1.0
    assert 200 <= allowed <= 220  # 20 per minute, plus the first burst


def test_keys_are_limited_separately(clock: Clock) -> None:
    limiter = ClientLimiter(1, 60.0, clock=clock)
    assert limiter.hit("a") is None
    assert limiter.hit("a") is not None
    assert limiter.hit("b") is None


def test_memory_is_bounded_and_the_least_recent_key_goes_first(clock: Clock) -> None:
    limiter = ClientLimiter(1, 60.0, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        limiter.hit(key)
    limiter.hit("a")  # "a" is now the most recent; "b" the least
    limiter.hit("d")
    assert len(limiter) == 3
    assert limiter.hit("a") is not None  # still remembered, still limited
    assert limiter.hit("b") is None  # forgotten: starts again with a full bucket
    for n in range(10_000):
        limiter.hit(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 3


def test_a_clock_stepping_back_does_not_drain_or_fill(clock: Clock) -> None:
    limiter = ClientLimiter(1, 60.0, clock=clock)
    limiter.hit("a")
    clock.now -= 3600
    assert limiter.hit("a") is not None


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1, "period": 0}, "period"),
        ({"limit": 1, "max_keys": 0}, "max_keys"),
    ],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ClientLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.2, "1"), (2.0, "2"), (2.01, "3")])
def test_retry_after_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("::ffff:203.0.113.5", "203.0.113.5"),  # IPv4 on a dual-stack socket
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:abcd", "2001:db8:1:2::/64"),  # however it is written
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64: another line
        ("::1", "::/64"),
        ("unknown", "unknown"),
        (None, "unknown"),
    ],
)
def test_ipv6_clients_are_limited_by_their_64_prefix(remote: str | None, key: str) -> None:
    assert address_key(remote) == key


def test_a_64_shares_one_bucket_whichever_addresses_it_uses(clock: Clock) -> None:
    limiter = ClientLimiter(20, 60.0, clock=clock)
    keys = [address_key(f"2001:db8:1:2::{n:x}") for n in range(1, 26)]
    answers = [limiter.hit(key) for key in keys]
    assert answers[:20] == [None] * 20
    assert all(wait is not None for wait in answers[20:])
