"""How often one client address may hit a public page (the verification link page).

A link token has 72 bits, so guessing one is hopeless; the limit is there so that one
address cannot make the server do unbounded database lookups, and so a misbehaving
link scanner cannot hammer a holder's link.

The key is :func:`address_key` of ``request.remote``: the peer of the TCP connection,
or, from a proxy in ``server.trusted_proxies``, the client it names
(:mod:`bot.web.forwarded`). Never key on ``X-Forwarded-For`` as given: any client can
send that header, and a limiter keyed on it is a limiter every client can step around.
An IPv6 client is keyed by its /64: one subscriber line, phone or virtual server is
given a whole /64 and may use any of its 2^64 addresses, so a limit per IPv6 address
is no limit at all. Every per-address limit of a public page (the link page, the web
form) keys with :func:`address_key`.

Two limiters, one interface (:class:`AddressLimiter`): on SQLite, where one process
serves, :class:`ClientLimiter` counts in memory (a token bucket, no database write per
hit); on PostgreSQL, where several processes may serve behind one address,
:class:`SharedLimiter` counts in the database (:mod:`storage.client_hits`), so the limit
is the limit of the whole deployment and not of each process.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.web.forwarded import ip
from core.ports import Clock

if TYPE_CHECKING:
    from bot.services import Services

#: The prefix an IPv6 client is counted by: the /64 a provider assigns to one line.
IPV6_PREFIX = 64


def address_key(remote: str | None) -> str:
    """What a per-address limit counts a client under: an IPv4 address as it is
    (an IPv4-mapped IPv6 peer as its IPv4 address), an IPv6 address as its /64
    (``2001:db8:1:2::/64``), and anything that is no address as written
    (``unknown`` when there is none), so that it is still limited, as one key."""
    address = ip(remote)
    if address is None:
        return remote or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


class AddressLimiter(Protocol):
    async def hit(self, key: str) -> float | None:
        """Count one request from ``key``: ``None`` if it may go ahead, otherwise the
        seconds until it may."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class ClientLimiter:
    """A token bucket per key: ``limit`` requests at once, refilled at ``limit`` per
    ``period`` seconds, so a steady client gets ``limit`` per period and no more.

    At most ``max_keys`` buckets are kept (least recently seen dropped first), so a
    flood from many addresses costs bounded memory. A dropped key starts again with a
    full bucket, which gives that client nothing it could not get from a new address.
    """

    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1: {limit!r}")
        if not period > 0:
            raise ValueError(f"period must be positive: {period!r}")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1: {max_keys!r}")
        self.limit = limit
        self.rate = limit / period  # tokens per second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str) -> float | None:
        """Count one request from ``key``: ``None`` if it may go ahead, otherwise the
        seconds until it may (what a ``Retry-After`` header says)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.limit), now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)  # a clock that steps back must not drain
            bucket.tokens = min(float(self.limit), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate


class LocalLimiter:
    """:class:`ClientLimiter` behind the :class:`AddressLimiter` interface."""

    def __init__(self, limiter: ClientLimiter) -> None:
        self.limiter = limiter

    async def hit(self, key: str) -> float | None:
        return self.limiter.hit(key)


class HitCounter(Protocol):
    """Hits per key in fixed windows of ``period`` seconds, counted where every process
    sees them (the composition root gives one on PostgreSQL: ``Services.shared_hits``)."""

    period: float

    def slot(self, now: float) -> int: ...

    async def hit(self, key: str, now: float) -> int: ...


def per_minute(services: Services, limit: int) -> AddressLimiter:
    """``limit`` requests a minute per address, counted where every ``serve`` process
    sees them when there can be several (PostgreSQL), else in memory (SQLite: one)."""
    if services.shared_hits is not None:
        return SharedLimiter(services.shared_hits, limit, services.clock)
    return LocalLimiter(ClientLimiter(limit, 60.0))


class SharedLimiter:
    """``limit`` requests per key in each fixed window of ``period`` seconds, counted in
    the database by every process alike."""

    def __init__(self, counter: HitCounter, limit: int, clock: Clock) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1: {limit!r}")
        self._counter = counter
        self.limit = limit
        self._clock = clock

    async def hit(self, key: str) -> float | None:
        now = self._clock.now().timestamp()
        if await self._counter.hit(key, now) <= self.limit:
            return None
        return (self._counter.slot(now) + 1) * self._counter.period - now


def retry_after_header(seconds: float) -> str:
    """Whole seconds, rounded up: ``Retry-After: 0`` would invite an instant retry."""
    return str(max(1, math.ceil(seconds)))
