"""Writing staged registry rows into the registry: upserts by pass and ID number, counted.

The staged rows (:mod:`storage.registry_stage`) come holder by holder, in batches. For
each batch the merge reads what is stored for its passes and persons, decides what is
new, updated or unchanged (:class:`BatchPlanner`), and upserts only the rows that
change, so re-importing an unchanged registry writes nothing.

**SQLite: one short transaction per batch.** SQLite has one writer at a time, and a
100,000-row import in one transaction kept every webhook waiting for its whole run. So
each batch (about :data:`storage.importer.BATCH_ROWS` rows, never splitting a holder) is
read, decided and written in its own ``BEGIN IMMEDIATE`` transaction of a few
milliseconds, and between batches the lock is left free (:class:`LockPacer`):

* long enough for a waiting writer to see it: the service's connections (and SQLite's
  own busy handler) retry a locked database at most :data:`MAX_POLL_S` apart, so after
  at most :data:`MAX_HOLD_S` of holding the lock, over one or more batches, the merge
  pauses for :data:`LONG_PAUSE_S`, longer than that interval: every writer that was
  waiting gets the lock in that pause, whatever the timing;
* and longer while the service is busy: as long as other connections keep committing
  (``PRAGMA data_version``), the pause goes on, in steps of :data:`BUSY_STEP_S`, up to
  :data:`MAX_PAUSE_S`, so a queue of webhooks that built up while the import held the
  lock drains before it takes it again. An idle service costs the import little;
* a short pause after every batch lets a writer that has just started waiting (it
  retries after 1, 2, 5 ms...) in sooner.

The merge runs on a plain ``sqlite3`` connection of its own in a worker thread, where
SQLite's own busy handler may sleep without stalling an event loop.

*What others see meanwhile:* the batches committed so far. Each holder is whole (their
person record and every pass of theirs in the file change in the same commit), each
row is old or new, never half; but for the few seconds of the merge some holders are
imported and others not yet. Everything that can refuse a file is checked before the
first batch, so an invalid file writes nothing; what is left is an interruption (a
crash, a kill) during the merge, which leaves the batches committed so far: importing
the same file again completes it (the merge is idempotent).

**PostgreSQL: one transaction.** MVCC makes that harmless there: readers keep seeing the
registry as it was until the commit, and a writer waits only for a row the import
itself changed (row locks, not a table lock), for the length of the merge; the checks
took place before it began. A statement's text is the same whatever the batch holds:
keys go in as one array (``= ANY(:keys)``), rows as one array per column
(``INSERT ... SELECT unnest(:a), unnest(:b), ...``), one round trip each.

**Verification is decided when the row is written,** not when it was read: the upsert
keeps the stored verified phone when the file's cell is empty, and keeps its time when
the phone stays the same (``ON CONFLICT DO UPDATE SET verified_phone =
coalesce(excluded.verified_phone, passes.verified_phone), ...``), so a holder who
verifies during an import keeps the verification.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Table,
    Text,
    any_,
    bindparam,
    case,
    func,
    null,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.registry_stage import StagedRow
from storage.tables import passes, persons

# How a SQLite merge leaves the write lock to others (see the module docstring).
MAX_POLL_S = 0.1  # the longest wait between two tries of a locked database: ours
# (storage.inline_sqlite's back-off) and SQLite's busy handler both stop growing there
MAX_HOLD_S = 0.3  # the most lock time, over consecutive batches, before a long pause
LONG_PAUSE_S = 0.12  # > MAX_POLL_S, with a margin for a busy process's late wake-up
BUSY_STEP_S = 0.05  # the pause goes on by this while others keep committing...
MAX_PAUSE_S = 0.6  # ...up to this
SHORT_PAUSE_S = 0.001  # after every batch

_SQLITE = SQLiteDialect_pysqlite()


@dataclass(slots=True)
class Counts:
    """Rows of one kind (passes or persons) by what the import did with them."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0


class StoredPass(NamedTuple):
    """What the registry holds for a pass, dates as ISO text."""

    id_no: str
    company: str
    valid_from: str
    valid_to: str
    verified_phone: str | None


class BatchPlanner:
    """Decides, batch by batch, what to write; counts new, updated and unchanged rows.

    Pure: given a batch and what is stored for it, returns the persons (each holder's
    first row) and passes to upsert.
    """

    def __init__(self) -> None:
        self.passes = Counts()
        self.persons = Counts()

    def plan(
        self,
        batch: Sequence[StagedRow],
        stored_persons: dict[str, tuple[str, str | None]],
        stored_passes: dict[str, StoredPass],
    ) -> tuple[list[StagedRow], list[StagedRow]]:
        person_writes: list[StagedRow] = []
        pass_writes: list[StagedRow] = []
        for row in batch:
            if row.line == row.person_line:  # the holder's first row carries the person
                stored_person = stored_persons.get(row.id_no)
                if stored_person == (row.name, row.phone):
                    self.persons.unchanged += 1
                else:
                    if stored_person is None:
                        self.persons.new += 1
                    else:
                        self.persons.updated += 1
                    person_writes.append(row)
            stored = stored_passes.get(row.pass_no)
            if stored is None:
                self.passes.new += 1
                pass_writes.append(row)
                continue
            verified = row.verified_phone or stored.verified_phone  # empty cell: kept
            after = (row.id_no, row.company, row.valid_from, row.valid_to, verified)
            if after == stored:
                self.passes.unchanged += 1
            else:
                self.passes.updated += 1
                pass_writes.append(row)
        return person_writes, pass_writes


def _pass_changes(excluded: Any) -> dict[str, ColumnElement[Any]]:
    """The ON CONFLICT update of a pass: verification decided against the stored row."""
    verified = func.coalesce(excluded.verified_phone, passes.c.verified_phone)
    same_phone = verified.is_not_distinct_from(passes.c.verified_phone)
    return {
        "id_no": excluded.id_no,
        "company": excluded.company,
        "valid_from": excluded.valid_from,
        "valid_to": excluded.valid_to,
        "verified_phone": verified,
        "verified_at": case((same_phone, passes.c.verified_at), else_=null()),
        "updated_at": excluded.updated_at,
    }


def _person_changes(excluded: Any) -> dict[str, ColumnElement[Any]]:
    return {c: excluded[c] for c in ("name", "phone", "updated_at")}


ProgressCallback = Callable[[int], None]  # called with the rows merged so far


# --- SQLite --------------------------------------------------------------------------


def _sqlite_upsert(table: Table, key: str, changes: Callable[[Any], dict[str, Any]]) -> str:
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_=changes(statement.excluded)
    )
    compiled = statement.compile(dialect=_SQLITE)
    # Rows are given as tuples in table order: make sure that is the statement's order.
    assert compiled.positiontup == [c.name for c in table.columns]  # noqa: S101
    return str(compiled)


_SQLITE_UPSERT_PERSONS = _sqlite_upsert(persons, "id_no", _person_changes)
_SQLITE_UPSERT_PASSES = _sqlite_upsert(passes, "pass_no", _pass_changes)
_SQLITE_STORED_PERSONS = (
    "SELECT id_no, name, phone FROM persons WHERE id_no IN (SELECT value FROM json_each(?))"
)
_SQLITE_STORED_PASSES = (
    "SELECT pass_no, id_no, company, valid_from, valid_to, verified_phone FROM passes"
    " WHERE pass_no IN (SELECT value FROM json_each(?))"
)


def sqlite_timestamp(at: datetime) -> str:
    """``at`` as the registry's SQLite tables hold a timestamp (naive UTC text)."""
    processor = passes.c.updated_at.type.dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert processor is not None  # noqa: S101
    value: str = processor(at)
    return value


def merge_into_sqlite(
    db: sqlite3.Connection,
    batches: Iterable[list[StagedRow]],
    now: datetime,
    *,
    write: bool,
    pause: bool,
    after_batch: ProgressCallback,
    stopped: Callable[[], bool] = lambda: False,
) -> BatchPlanner:
    """Merge ``batches`` into the SQLite registry on ``db`` (autocommit mode), one
    ``BEGIN IMMEDIATE`` transaction per batch; without ``write``, only count (plain
    reads, no lock). ``pause``: leave the lock free after each batch (see the module
    docstring); ``after_batch`` is called after each commit; the merge stops before
    the next batch once ``stopped()``."""
    planner = BatchPlanner()
    stamp = sqlite_timestamp(now)
    merged = 0
    pacer = LockPacer(db) if write and pause else None
    for batch in batches:
        if stopped():
            break
        started = time.monotonic()
        if write:
            db.execute("BEGIN IMMEDIATE")
        try:
            stored_persons = {
                id_no: (name, phone)
                for id_no, name, phone in db.execute(
                    _SQLITE_STORED_PERSONS, (json.dumps([r.id_no for r in batch]),)
                )
            }
            stored_passes = {
                found[0]: StoredPass(*found[1:])
                for found in db.execute(
                    _SQLITE_STORED_PASSES, (json.dumps([r.pass_no for r in batch]),)
                )
            }
            person_rows, pass_rows = planner.plan(batch, stored_persons, stored_passes)
            if write:
                db.executemany(
                    _SQLITE_UPSERT_PERSONS, [(r.id_no, r.name, r.phone, stamp) for r in person_rows]
                )
                db.executemany(
                    _SQLITE_UPSERT_PASSES,
                    [
                        (
                            r.pass_no,
                            r.id_no,
                            r.company,
                            r.valid_from,
                            r.valid_to,
                            r.verified_phone,
                            None,  # verified_at: the upsert keeps the stored one
                            stamp,
                        )
                        for r in pass_rows
                    ],
                )
                db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        merged += len(batch)
        after_batch(merged)
        if pacer is not None:
            pacer.after_batch(time.monotonic() - started)
    return planner


class LockPacer:
    """When and for how long a batch merge leaves SQLite's write lock to others.

    ``after_batch(held)`` is called after each committed batch with the seconds it held
    the lock, and sleeps: briefly, or, once the batches since the last long pause held
    the lock for :data:`MAX_HOLD_S`, for at least :data:`LONG_PAUSE_S` and for as long
    (up to :data:`MAX_PAUSE_S`) as other connections keep committing.
    """

    def __init__(
        self, db: sqlite3.Connection, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._db = db
        self._sleep = sleep
        self._held = 0.0

    def _version(self) -> int:
        # Changes whenever another connection commits to the database.
        value: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        return value

    def after_batch(self, held: float) -> None:
        self._held += held
        if self._held < MAX_HOLD_S:
            self._sleep(SHORT_PAUSE_S)
            return
        self._held = 0.0
        version = self._version()
        self._sleep(LONG_PAUSE_S)
        for _ in range(int((MAX_PAUSE_S - LONG_PAUSE_S) / BUSY_STEP_S)):
            latest = self._version()
            if latest == version:  # nobody committed in the last step: the queue is empty
                return
            version = latest
            self._sleep(BUSY_STEP_S)


# --- PostgreSQL ------------------------------------------------------------------------


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
    upsert_persons = _ArrayUpsert(conn, persons, "id_no", _person_changes)
    upsert_passes = _ArrayUpsert(conn, passes, "pass_no", _pass_changes)
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
