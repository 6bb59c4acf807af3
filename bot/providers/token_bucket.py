"""An asyncio token bucket: how fast the outbox worker may hand SMS to the provider.

Twilio queues what an account sends faster than its sender can deliver (one segment per
second for a long code) and answers 429 when the API itself is hit too hard; a campaign
to every holder (docs/campaigns.md) must therefore pace itself rather than rely on
retries.

The clock and the sleep are injected so tests can drive the bucket with a fake clock
and prove the rate without waiting in real time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

# Float refills can land a hair under a whole token after an exact sleep; without this
# slack the waiter would loop on sleeps of a few nanoseconds.
_EPSILON = 1e-9


class TokenBucket:
    """Allows ``rate_per_second`` acquisitions on average and ``burst`` at once.

    The bucket starts full, refills continuously, and never holds more than ``burst``
    tokens, so an idle period buys at most one burst. Waiters are served in arrival
    order: a lock makes one waiter sleep at a time, so a late caller cannot take the
    token an earlier one has been waiting for.
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not rate_per_second > 0 or math.isinf(rate_per_second):
            raise ValueError(f"rate_per_second must be positive and finite: {rate_per_second!r}")
        if burst is None:
            # One second's worth, but at least one token or nothing could ever pass.
            burst = max(1, math.floor(rate_per_second))
        if burst < 1:
            raise ValueError(f"burst must be at least 1: {burst!r}")
        self.rate = float(rate_per_second)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)  # a clock that steps back must not drain
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def available(self) -> float:
        """Tokens that could be taken right now (for metrics and tests)."""
        self._refill()
        return self._tokens

    def try_acquire(self) -> bool:
        """Take a token if one is there now; never waits (and never jumps the queue)."""
        if self._lock.locked():
            return False
        self._refill()
        if self._tokens >= 1 - _EPSILON:
            self._tokens -= 1
            return True
        return False

    async def acquire(self, within: float | None = None) -> float | None:
        """Wait until a token is available, then take it (``None``). With ``within``: if
        the token would come later than ``within`` seconds from the call, take nothing
        and answer at once with the seconds until it would come
        (:class:`bot.providers.send_rate.SendRate`)."""
        deadline = None if within is None else self._clock() + within
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1 - _EPSILON:
                    self._tokens -= 1
                    return None
                need = (1 - self._tokens) / self.rate
                if deadline is not None and self._clock() + need > deadline + _EPSILON:
                    return need
                # Loop rather than trust the sleep: a real one may wake a little early.
                await self._sleep(need)
