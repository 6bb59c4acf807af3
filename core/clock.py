"""Time: the real clock (tests pass a fake that they move by hand) and Taiwan's time
zone, in which people read dates and times and a pass's validity days begin and end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: Taiwan has kept UTC+8 without daylight saving since 1979; a fixed offset avoids
#: depending on the host's tz database.
TAIPEI = timezone(timedelta(hours=8), "Asia/Taipei")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
