"""When and how fast a campaign sends: its daily window in Taipei time, and the pacer
whose whole state is one timestamp on the campaign's row, so every instance that sends
the campaign shares one rate."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from core.campaigns.options import InvalidWindow
from core.clock import TAIPEI

_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_DAY = 24 * 60


def _minutes(raw: str) -> int | None:
    match = _CLOCK.match(raw.strip())
    if not match:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= _DAY else None


@dataclass(frozen=True, slots=True)
class Window:
    """The daily hours (Taipei time) in which a campaign may send: ``start`` and ``end``
    in minutes after midnight. ``end`` before ``start`` runs overnight
    (``21:00-06:00``); ``00:00-24:00`` is always open."""

    start: int
    end: int

    @classmethod
    def parse(cls, raw: str) -> Window:
        text = unicodedata.normalize("NFKC", raw).replace(" ", "")
        start_text, dash, end_text = text.partition("-")
        start, end = _minutes(start_text), _minutes(end_text)
        if not dash or start is None or end is None or start in (end, _DAY):
            raise InvalidWindow(option="--window", got=raw)
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"

    @property
    def always_open(self) -> bool:
        return self.start == 0 and self.end == _DAY

    def _local(self, now: datetime) -> tuple[datetime, float]:
        local = now.astimezone(TAIPEI)
        midnight = datetime.combine(local.date(), time(), TAIPEI)
        return midnight, (local - midnight).total_seconds() / 60

    def contains(self, now: datetime) -> bool:
        _, minute = self._local(now)
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def next_open(self, now: datetime) -> datetime:
        """``now`` when open, else when the window next opens."""
        if self.contains(now):
            return now
        midnight, _ = self._local(now)
        opens = midnight + timedelta(minutes=self.start)
        return opens if opens > now else opens + timedelta(days=1)

    def closes_at(self, now: datetime) -> datetime | None:
        """When the window that is open at ``now`` closes (``None``: never)."""
        if self.always_open:
            return None
        midnight, minute = self._local(now)
        closes = midnight + timedelta(minutes=self.end)
        if self.start > self.end and minute >= self.start:
            closes += timedelta(days=1)
        return closes

    def finish_time(self, now: datetime, seconds: float) -> datetime:
        """When ``seconds`` of sending, done only inside the window, end (for an ETA)."""
        at, left = now, max(0.0, seconds)
        for _ in range(10_000):  # a day per turn at most: enough for any campaign
            at = self.next_open(at)
            closes = self.closes_at(at)
            if closes is None or at + timedelta(seconds=left) <= closes:
                return at + timedelta(seconds=left)
            left -= (closes - at).total_seconds()
            at = closes
        return at + timedelta(seconds=left)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


#: The window when none is given: no SMS at night.
DEFAULT_WINDOW = Window(9 * 60, 21 * 60)


#: Rounding of timestamps to whole microseconds, with room to spare (see Pacer.allowance).
_SLACK_SECONDS = 5e-6


@dataclass(frozen=True, slots=True)
class Pacer:
    """A token bucket whose whole state is one timestamp, ``paced_until``, kept on the
    campaign's row: every serve instance paces the same campaign through it, so two
    instances together still send at most ``rate`` per second.

    ``paced_until`` is the time at which the bucket is empty; tokens accrue at ``rate``
    after it, up to ``burst``. The burst (a quarter of a second's worth, at least 2)
    absorbs a dispatcher that wakes a little late, so the long-run rate stays ``rate``.
    """

    rate: float
    burst: int

    @classmethod
    def for_rate(cls, rate: float) -> Pacer:
        return cls(rate, max(2, math.ceil(rate / 4)))

    def _empty_at(self, paced_until: datetime | None, now: datetime) -> datetime:
        if paced_until is None:  # never sent: one token, no burst at the start
            return now - timedelta(seconds=1 / self.rate)
        floor = now - timedelta(seconds=self.burst / self.rate)
        return max(paced_until, floor)

    def allowance(self, paced_until: datetime | None, now: datetime) -> int:
        """How many SMS may go at ``now``. Timestamps have microseconds: ``1/120`` s is
        stored as 8333 µs, a hair under one token, so a few microseconds of slack are
        allowed, or the dispatcher would wait for a token that never quite comes."""
        elapsed = (now - self._empty_at(paced_until, now)).total_seconds()
        slack = self.rate * _SLACK_SECONDS
        return max(0, min(self.burst, math.floor(elapsed * self.rate + slack)))

    def spend(self, paced_until: datetime | None, now: datetime, count: int) -> datetime:
        """``paced_until`` after ``count`` SMS went at ``now``."""
        return self._empty_at(paced_until, now) + timedelta(seconds=count / self.rate)

    def next_at(self, paced_until: datetime | None, now: datetime) -> datetime:
        """When the next SMS may go."""
        return max(now, self._empty_at(paced_until, now) + timedelta(seconds=1 / self.rate))
