"""Merging staged registry rows into SQLite, batch by batch (:mod:`storage.registry.merge`).

**SQLite: one short transaction per batch.** SQLite has one writer at a time, and a
100,000-row import in one transaction kept every webhook waiting for its whole run. So
each batch (about :data:`storage.registry.importer.BATCH_ROWS` rows, never splitting a holder) is
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
  retries after 1, 2, 5 ms...) in sooner;
* and no pause at all while no other process has the database open
  (:mod:`storage.registry.database_users`): then nobody can be waiting for the lock.
  An import from the CLI with no server running used to sleep about a second of its
  100,000 rows' few seconds for nobody.

The merge runs on a plain ``sqlite3`` connection of its own in a worker thread, where
SQLite's own busy handler may sleep without stalling an event loop.

*What others see meanwhile:* the batches committed so far. Each holder is whole (their
person record and every pass of theirs in the file change in the same commit), each
row is old or new, never half; but for the few seconds of the merge some holders are
imported and others not yet. Everything that can refuse a file is checked before the
first batch, so an invalid file writes nothing; what is left is an interruption (a
crash, a kill) during the merge, which leaves the batches committed so far: importing
the same file again completes it (the merge is idempotent).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from storage.db import BUSY_TIMEOUT_MS
from storage.registry.database_users import OtherProcesses
from storage.registry.merge import (
    BatchPlanner,
    ProgressCallback,
    StoredPass,
    pass_changes,
    person_changes,
)
from storage.registry.stage import StagedRow
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


def _sqlite_upsert(table: Table, key: str, changes: Callable[[Any], dict[str, Any]]) -> str:
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[key], set_=changes(statement.excluded)
    )
    compiled = statement.compile(dialect=_SQLITE)
    # Rows are given as tuples in table order: make sure that is the statement's order.
    assert compiled.positiontup == [c.name for c in table.columns]  # noqa: S101
    return str(compiled)


_SQLITE_UPSERT_PERSONS = _sqlite_upsert(persons, "id_no", person_changes)
_SQLITE_UPSERT_PASSES = _sqlite_upsert(passes, "pass_no", pass_changes)
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
    shared: Callable[[], bool] = lambda: True,
) -> BatchPlanner:
    """Merge ``batches`` into the SQLite registry on ``db`` (autocommit mode), one
    ``BEGIN IMMEDIATE`` transaction per batch; without ``write``, only count (plain
    reads, no lock). ``pause``: leave the lock free after each batch (see the module
    docstring) while ``shared()`` says another process has the database open;
    ``after_batch`` is called after each commit; the merge stops before the next batch
    once ``stopped()``."""
    planner = BatchPlanner()
    stamp = sqlite_timestamp(now)
    merged = 0
    pacer = LockPacer(db, shared=shared) if write and pause else None
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
        self,
        db: sqlite3.Connection,
        *,
        sleep: Callable[[float], None] = time.sleep,
        shared: Callable[[], bool] = lambda: True,
    ) -> None:
        self._db = db
        self._sleep = sleep
        self._shared = shared  # whether another process has the database open
        self._held = 0.0

    def _version(self) -> int:
        # Changes whenever another connection commits to the database.
        value: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        return value

    def after_batch(self, held: float) -> None:
        if not self._shared():
            # Nobody else has the database open, so nobody waits for the lock: no pause
            # (a process that opens it meanwhile is seen after the next batch).
            self._held = 0.0
            return
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


def merge_into_sqlite_file(
    database: str,
    batches: Iterable[list[StagedRow]],
    now: datetime,
    write: bool,
    after_batch: Callable[[int], None],
    stop: threading.Event,
) -> BatchPlanner:
    """:func:`merge_into_sqlite` on a connection of its own to the file ``database``,
    configured as :mod:`storage.db` configures the service's; for a worker thread, where
    SQLite's busy handler may sleep while the service holds the lock."""
    db = sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return merge_into_sqlite(
            db,
            batches,
            now,
            write=write,
            pause=True,
            after_batch=after_batch,
            stopped=stop.is_set,
            shared=OtherProcesses(database),
        )
    finally:
        db.close()
