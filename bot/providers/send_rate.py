"""How fast the outbox worker may hand SMS to the provider: one interface, two homes.

The provider account's limit (``sms.max_per_second``) belongs to the account, not to a
process. On SQLite one process serves, and the in-memory
:class:`bot.providers.token_bucket.TokenBucket` is the rate. On PostgreSQL any number of
processes may send (``serve --workers N``, separate instances, several hosts), and an
in-memory bucket in each would let N processes send N times the rate; there
:class:`SharedSendRate` books every send in the database
(:mod:`storage.outbox.send_rate`): one statement per SMS, and together the processes
send at the configured rate, whatever their number.

Both bound how long a send may wait (``within``): a claimed SMS must leave inside its
lease, or another worker would claim and send it too. A send that could not have a
slot in time takes none, and the worker gives the row back and claims nothing more
until the rate has room (:mod:`bot.sms.outbox_worker`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Protocol

from storage.outbox.send_rate import SendSchedule

#: The shortest hold after a refusal: the schedule may have freed up since it was read.
_MIN_HOLD = 0.05
#: ``within=None``: as long as it takes.
_FOREVER = 1e9


class SendRate(Protocol):
    """``rate`` sends per second, for everything that uses this object."""

    rate: float

    async def acquire(self, within: float | None = None) -> float | None:
        """Wait for a send slot: ``None`` once one is taken; or, when none can be had
        within ``within`` seconds, at once and taking nothing, the seconds until one
        may be."""


class SharedSendRate:
    """``rate`` sends per second, ``burst`` at once, shared through the database with
    every process that books from the same schedule."""

    def __init__(
        self,
        schedule: SendSchedule,
        rate_per_second: float,
        burst: int | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not rate_per_second > 0 or math.isinf(rate_per_second):
            raise ValueError(f"rate_per_second must be positive and finite: {rate_per_second!r}")
        self.rate = float(rate_per_second)
        self.burst = burst if burst is not None else max(1, math.floor(rate_per_second))
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        self._schedule = schedule
        self._interval = 1.0 / self.rate
        self._tolerance = (self.burst - 1) * self._interval
        self._sleep = sleep

    async def acquire(self, within: float | None = None) -> float | None:
        limit = _FOREVER if within is None else within
        wait = await self._schedule.book(self._interval, self._tolerance, limit)
        if wait is None:
            ahead = await self._schedule.ahead(self._tolerance)
            return max(_MIN_HOLD, ahead - limit)
        if wait > 0:
            await self._sleep(wait)
        return None
