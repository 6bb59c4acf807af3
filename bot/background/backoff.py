"""How long background work waits before trying again: one formula for every loop.

Exponential backoff with *full jitter*: the n-th retry waits a uniformly random time
between 0 and ``min(cap, base * 2**(n-1))``. Without the jitter, every row (or every
process) that failed at the same moment (a provider outage, a database restart) would
try again at the same moment and fail together again; full jitter spreads them over
the whole window, which AWS's study of backoff schemes found does the least total work
("Exponential Backoff And Jitter", the AWS Architecture Blog, 2015). The cap keeps a
long outage from pushing the next try out of reach of the thing being sent.

Used for the outbox's SMS retries, the Telegram notice messages' retries and the pause
of every loop after a pass that failed (:class:`bot.background.loop.BackgroundLoop`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: ``base`` seconds for the first retry's ceiling,
    doubling per attempt, never above ``cap``. ``rng`` is seeded in tests."""

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if not (self.base > 0 and self.cap >= self.base):
            raise ValueError(f"need 0 < base <= cap, got base={self.base!r} cap={self.cap!r}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failure number ``attempt`` (1 for the first)."""
        return min(self.cap, self.base * 2.0 ** min(max(attempt, 1) - 1, 60))

    def delay(self, attempt: int, at_least: float | None = None) -> float:
        """Seconds to wait after failure number ``attempt``: random in ``[0, ceiling]``,
        but never under ``at_least`` (a provider's ``Retry-After``)."""
        wait = self.rng.uniform(0.0, self.ceiling(attempt))
        return wait if at_least is None else max(wait, at_least)
