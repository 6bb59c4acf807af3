"""A clock that tests move by hand (24-hour expiry, 30-minute idle, cool-downs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class TickingClock(FakeClock):
    """Each reading is one millisecond later than the last: a second reading of the
    clock where one was meant (one ``now`` per transaction) shows in what was written."""

    def now(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current
