"""Merging staged registry rows into PostgreSQL, in one transaction
(:mod:`storage.registry.merge`).

**PostgreSQL: one transaction.** MVCC makes that harmless there: readers keep seeing the
registry as it was until the commit, and a writer waits only for a row the import
itself changed (row locks, not a table lock), for the length of the merge; the checks
took place before it began. A statement's text is the same whatever the batch holds:
keys go in as one array (``= ANY(:keys)``), rows as one array per column
(``INSERT ... SELECT unnest(:a), unnest(:b), ...``), one round trip each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Table, Text, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.registry.merge import BatchPlanner, StoredPass, pass_changes, person_changes
from storage.registry.stage import StagedRow
from storage.tables import passes, persons


class _ArrayUpsert:
    """``INSERT ... SELECT unnest(:col), ... ON CONFLICT (key) DO UPDATE``: one statement
    text and one round trip for any number of rows."""

    def __init__(
        self, conn: AsyncConnection, table: Table, key: str, changes: Callable[[Any], Any]
    ) -> None:
        self._conn = conn
        self._columns = [c.name for c in table.columns]
        values = select(
            *(func.unnest(bindparam(c.name, type_=ARRAY(c.type))) for c in table.columns)
        )
        statement = postgresql.insert(table).from_select(self._columns, values)
        self._statement = statement.on_conflict_do_update(
            index_elements=[key], set_=changes(statement.excluded)
        )

    async def __call__(self, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            columns = dict(zip(self._columns, map(list, zip(*rows, strict=True)), strict=True))
            await self._conn.execute(self._statement, columns)


def _keys(column: ColumnElement[str]) -> ColumnElement[bool]:
    return column == any_(bindparam("keys", type_=ARRAY(Text)))


_PG_STORED_PERSONS = select(persons.c.id_no, persons.c.name, persons.c.phone).where(
    _keys(persons.c.id_no)
)
_PG_STORED_PASSES = select(
    passes.c.pass_no,
    passes.c.id_no,
    passes.c.company,
    passes.c.valid_from,
    passes.c.valid_to,
    passes.c.verified_phone,
).where(_keys(passes.c.pass_no))


@lru_cache(maxsize=4096)
def _date(iso: str) -> date:
    return date.fromisoformat(iso)


async def merge_into_postgres(
    conn: AsyncConnection,
    batches: Iterable[list[StagedRow]],
    now: datetime,
    *,
    write: bool,
    after_batch: Callable[[int], Any],
) -> BatchPlanner:
    """Merge ``batches`` into the PostgreSQL registry in ``conn``'s open transaction,
    which the caller commits or rolls back; without ``write``, only count.
    ``after_batch`` is awaited after each batch."""
    planner = BatchPlanner()
    upsert_persons = _ArrayUpsert(conn, persons, "id_no", person_changes)
    upsert_passes = _ArrayUpsert(conn, passes, "pass_no", pass_changes)
    merged = 0
    for batch in batches:
        ids = list({r.id_no for r in batch})
        stored_persons = {
            r.id_no: (r.name, r.phone)
            for r in await conn.execute(_PG_STORED_PERSONS, {"keys": ids})
        }
        stored_passes = {
            r.pass_no: StoredPass(
                r.id_no,
                r.company,
                r.valid_from.isoformat(),
                r.valid_to.isoformat(),
                r.verified_phone,
            )
            for r in await conn.execute(_PG_STORED_PASSES, {"keys": [r.pass_no for r in batch]})
        }
        person_rows, pass_rows = planner.plan(batch, stored_persons, stored_passes)
        if write:
            await upsert_persons([(r.id_no, r.name, r.phone, now) for r in person_rows])
            await upsert_passes(
                [
                    (
                        r.pass_no,
                        r.id_no,
                        r.company,
                        _date(r.valid_from),
                        _date(r.valid_to),
                        r.verified_phone,
                        None,
                        now,
                    )
                    for r in pass_rows
                ]
            )
        merged += len(batch)
        await after_batch(merged)
    return planner
