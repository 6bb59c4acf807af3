"""The SMS send rate of the whole deployment, kept in PostgreSQL: a schedule of send
slots that every ``serve`` process (separate instances, ``--workers``, several hosts)
books from, so that together they never hand the provider more than
``sms.max_per_second``.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket written as one
timestamp): the row holds ``next_at``, the earliest moment the next send may be
scheduled. Booking a send is **one statement**, whatever the contention::

    UPDATE send_rates SET next_at = GREATEST(next_at, now) + interval
    WHERE name = 'sms' AND next_at - tolerance <= now + max_wait
    RETURNING <the slot's start minus tolerance, minus now>

where ``interval`` is ``1 / rate`` and ``tolerance`` is ``(burst - 1) / rate`` (an idle
deployment may send ``burst`` at once, as the in-memory bucket allows). Two processes
booking at once queue on the row lock and get consecutive slots; a booking never
overwrites another, and slots are never handed out twice. The answer is how long the
caller waits before it sends (0 when its slot has come). A booking that would have to
wait longer than ``max_wait`` takes nothing (no row is updated), so an overbooked
schedule is refused rather than pushed further out: a claimed SMS must be sent inside
its lease.

``now`` is the database's ``clock_timestamp()``, not the process's: hosts whose clocks
disagree still share one schedule. The row is created on first use.

Why not a counter per second (like the link page's ``client_hits``): a fixed window
lets ``2 x rate`` through across a window's edge, which is exactly what a provider's
rate limit punishes; GCRA spaces the sends evenly with the same one statement.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import send_rates

_NOW = "extract(epoch FROM clock_timestamp())::float8"

_BOOK = text(
    f"UPDATE send_rates SET next_at = GREATEST(next_at, {_NOW}) + :interval "  # noqa: S608 - constant
    f"WHERE name = :name AND next_at - :tolerance <= {_NOW} + :max_wait "
    f"RETURNING next_at - :interval - :tolerance - {_NOW}"
).bindparams(
    bindparam("interval", type_=postgresql.DOUBLE_PRECISION),
    bindparam("tolerance", type_=postgresql.DOUBLE_PRECISION),
    bindparam("max_wait", type_=postgresql.DOUBLE_PRECISION),
)

_AHEAD = text(
    f"SELECT next_at - :tolerance - {_NOW} FROM send_rates WHERE name = :name"  # noqa: S608 - constant
).bindparams(bindparam("tolerance", type_=postgresql.DOUBLE_PRECISION))

_CREATE = (
    postgresql.insert(send_rates)
    .values(name=bindparam("name"), next_at=0.0)
    .on_conflict_do_nothing(index_elements=[send_rates.c.name])
)


class SendSchedule:
    """Books send slots of the rate ``name`` in the database (PostgreSQL only)."""

    def __init__(self, engine: AsyncEngine, name: str = "sms") -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("a shared send schedule needs PostgreSQL")
        self._engine = engine
        self.name = name
        self._created = False

    async def book(self, interval: float, tolerance: float, max_wait: float) -> float | None:
        """Book the next slot: seconds until it may be used (0 or less: now), or ``None``
        when the earliest free slot is more than ``max_wait`` away (nothing booked)."""
        if not self._created:
            async with self._engine.begin() as conn:
                await conn.execute(_CREATE, {"name": self.name})
            self._created = True
        params = {
            "name": self.name,
            "interval": interval,
            "tolerance": tolerance,
            "max_wait": max_wait,
        }
        async with self._engine.begin() as conn:
            wait = (await conn.execute(_BOOK, params)).scalar_one_or_none()
        return None if wait is None else float(wait)

    async def ahead(self, tolerance: float) -> float:
        """How far (seconds) the schedule's next free slot lies ahead of now."""
        async with self._engine.connect() as conn:
            params = {"name": self.name, "tolerance": tolerance}
            found = (await conn.execute(_AHEAD, params)).scalar_one_or_none()
        return 0.0 if found is None else float(found)
