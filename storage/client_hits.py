"""The link page's per-address counter in the database, shared by every ``serve``
process: with several processes an in-memory limit is a limit per process, and a
client that reaches N processes gets N times the allowance. A key is what
:func:`bot.web.client_limits.address_key` makes of the client's address (an IPv4
address, or an IPv6 client's /64), never an address as a client claims it.

A fixed window, counted by one statement per request (``INSERT ... ON CONFLICT DO
UPDATE ... RETURNING hits``): one round trip, one row per key a minute, no read
before the write, so two processes counting the same address at once both see the
other's hit. A fixed window lets a client put ``limit`` hits at the end of one window
and ``limit`` at the start of the next; for a limit whose purpose is to bound lookups
that is the same order of magnitude, and it costs a fraction of a sliding window's
bookkeeping on a path every link-page hit takes.

Rows are deleted by housekeeping (:func:`prune_client_hits`) once their window is over:
a key is kept no longer than the hour between two housekeeping runs.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Executable, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import client_hits

_t = client_hits

#: The window: the link page's limit is per minute.
WINDOW_SECONDS = 60.0


@cache
def _count(dialect_name: str) -> Executable:
    """One hit for ``key`` in window ``slot``; returns the window's count so far."""
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    statement = insert(_t).values(key=bindparam("key"), slot=bindparam("slot"), hits=1)
    return statement.on_conflict_do_update(
        index_elements=[_t.c.key, _t.c.slot], set_={"hits": _t.c.hits + 1}
    ).returning(_t.c.hits)


_PRUNE = delete(_t).where(_t.c.slot < bindparam("before"))


class SharedHitCounter:
    """Counts hits per key and fixed window of ``period`` seconds in the database."""

    def __init__(self, engine: AsyncEngine, period: float = WINDOW_SECONDS) -> None:
        if not period > 0:
            raise ValueError(f"period must be positive: {period!r}")
        self._engine = engine
        self.period = period

    def slot(self, now: float) -> int:
        return int(now // self.period)

    async def hit(self, key: str, now: float) -> int:
        """Count one hit of ``key`` at ``now`` (epoch seconds): the hits of its window
        so far, this one included."""
        statement = _count(self._engine.dialect.name)
        async with self._engine.begin() as conn:
            result = await conn.execute(statement, {"key": key, "slot": self.slot(now)})
            return int(result.scalar_one())

    async def prune(self, now: float) -> int:
        """Delete the windows that are over: they limit nobody any more."""
        async with self._engine.begin() as conn:
            result = await conn.execute(_PRUNE, {"before": self.slot(now)})
        return int(result.rowcount)
