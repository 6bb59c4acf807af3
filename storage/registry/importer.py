"""Import the pass registry (a CSV export) into storage: upsert passes and persons.

An import has two stages, and only the second touches the registry:

1. **Check** (:mod:`storage.registry.csv_rows`, :mod:`storage.registry.stage`): every row
   of the file is read and checked, in chunks of :data:`CHUNK_ROWS`, in a worker
   thread, into a private staging database. Every invalid row is reported with its
   line number and why (the first :data:`MAX_ERRORS` by line; the rest are counted).
2. **Merge** (:mod:`storage.registry.merge`): the staged rows are written holder by
   holder. Unless ``skip_invalid``, one invalid row means nothing is written, because
   half a registry is worse than yesterday's; a dry run, and a refused file, only
   count what would change (reads only).

On SQLite the merge commits every :data:`BATCH_ROWS` rows or so and leaves the lock
free between batches, so the service keeps answering while a large import runs (a
single transaction held SQLite's only write lock for the whole import and webhooks
failed). The price is that a crash *during the merge* leaves the holders merged so far;
importing the same file again completes it. On PostgreSQL the merge is one transaction
(MVCC: nobody waits for it but writers of the rows it changes). The module docstring of
:mod:`storage.registry.merge` says more.

Memory stays flat however long the file is: chunks of rows, and the staging database on
disk. Status is derived (R7), so the import never sets it: a new phone on file for a
verified holder makes their passes pending by itself.

Why one module: it is the import's conductor (open the staging database, run the check
in its thread, then the merge, and build the one report both stages fill); the reading,
staging and merging each live in their own module already.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.masking import mask_id
from core.values import IdNumber
from storage.registry.csv_rows import DELIMITERS, HeaderError, RegistryReader, RowError
from storage.registry.file import Encoding, open_registry
from storage.registry.merge import BatchPlanner, Counts
from storage.registry.merge_postgres import merge_into_postgres
from storage.registry.merge_sqlite import merge_into_sqlite, merge_into_sqlite_file
from storage.registry.progress import ImportProgress, ProgressHook, ProgressRelay, in_thread
from storage.registry.stage import StagedRegistry

CHUNK_ROWS = 1000  # rows read and checked at a time
BATCH_ROWS = 1000  # rows merged per transaction (at least; a holder is never split)
MAX_ERRORS = 1000  # row errors kept for the report; beyond it they are only counted
BAD_CHECK_DIGITS_LISTED = 20  # IDs failing their check digit named in the report
DEMO_REGISTRY = Path(__file__).resolve().parents[1] / "demo" / "passes.csv"

__all__ = [
    "BATCH_ROWS",
    "CHUNK_ROWS",
    "DEMO_REGISTRY",
    "MAX_ERRORS",
    "Counts",
    "ImportProgress",
    "ImportReport",
    "ProgressHook",
    "RowError",
    "import_registry",
]


@dataclass(slots=True)
class ImportReport:
    """What the import did (or, for a dry run or a rejected file, would have done).

    ``passes.invalid`` counts invalid rows; ``persons.invalid`` counts rows whose
    person disagreed with an earlier row for the same ID number.
    ``bad_check_digits`` counts people whose national or resident ID fails its check
    digit: imported (the registry holds test IDs like that) but worth a look;
    ``bad_check_digit_ids`` lists the first :data:`BAD_CHECK_DIGITS_LISTED` of them as
    (line, masked ID). ``encoding`` and ``delimiter`` say how the file was read
    ("Big5 (cp950)", "tab").
    ``errors`` holds the first ``max_errors`` row errors by line (then, if the file
    stopped being readable, where it did); ``errors_omitted`` counts the row errors
    after them, so a file of garbage cannot fill memory with error objects.
    """

    rows: int = 0
    passes: Counts = field(default_factory=Counts)
    persons: Counts = field(default_factory=Counts)
    errors: list[RowError] = field(default_factory=list)
    errors_omitted: int = 0
    bad_check_digits: int = 0
    bad_check_digit_ids: list[tuple[int, str]] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    dry_run: bool = False
    committed: bool = False
    complete: bool = False  # every row of the file was read (its header included)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_omitted

    @property
    def skipping_helps(self) -> bool:
        """Whether ``skip_invalid`` would import rows of this file: it was read to the
        end, and holds valid rows beside the invalid ones."""
        p = self.passes
        return self.complete and p.invalid > 0 and p.new + p.updated + p.unchanged > 0


async def import_registry(
    engine: AsyncEngine,
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    regions: Iterable[str] = ("TW",),
    now: datetime | None = None,
    max_errors: int = MAX_ERRORS,
    progress: ProgressHook | None = None,
) -> ImportReport:
    """Import ``path`` into the migrated database behind ``engine`` (on connections of
    its own; the caller owns the engine): UTF-8, Big5 or UTF-16
    (:mod:`storage.registry.file`), separated by commas, semicolons or tabs, with its
    columns in any order.

    Columns: ``pass_no, id_no, name, phone, valid_from, valid_to, company`` and the
    optional ``verified_phone``, or their Chinese names (``通行證號``, ``身分證號``...:
    :data:`storage.registry.csv_rows.CHINESE_COLUMNS`). An empty ``phone`` means no phone
    on file (R6). ``verified_phone`` carries verification over from an earlier system:
    a value sets the pass's verified phone, but an empty cell leaves whatever
    verification the pass already has, so re-importing a plain export never erases
    the holders' own verifications. Errors beyond the first ``max_errors`` (by line)
    are only counted (``ImportReport.errors_omitted``). ``progress`` is awaited as the
    file is checked and after each merged batch (on SQLite, with the lock released).
    """
    report = ImportReport(dry_run=dry_run)
    stop = threading.Event()
    notify = ProgressRelay(progress, stop)
    staged = StagedRegistry(max_errors=max_errors)
    try:
        check = partial(_check, path, staged, tuple(regions), max_errors, notify, stop)
        reader, encoding = await in_thread(check, stop)
        report.encoding = encoding.label
        if isinstance(reader, HeaderError):
            report.errors.append(RowError(1, None, str(reader)))
            return report
        _report_check(report, reader, staged, max_errors)
        # A file that stops being readable is never half-imported, even when skipping
        # invalid rows: what it holds after that point is unknown.
        complete = report.complete = reader.unreadable is None
        write = complete and not dry_run and (skip_invalid or report.ok)
        planner = await _merge(engine, staged, now or datetime.now(UTC), write, notify, stop)
        report.passes, report.persons = planner.passes, planner.persons
        report.passes.invalid = reader.invalid_rows + staged.rejected.count
        report.persons.invalid = staged.persons_invalid
        report.committed = write
    finally:
        staged.close()
    return report


def _report_check(
    report: ImportReport, reader: RegistryReader, staged: StagedRegistry, max_errors: int
) -> None:
    """What checking the file found, into ``report``."""
    report.delimiter = DELIMITERS[reader.delimiter]
    report.rows = reader.rows
    report.bad_check_digits = staged.bad_check_digits
    report.bad_check_digit_ids = [
        (found.line, mask_id(IdNumber(found.id_no)))
        for found in staged.bad_check_digit_ids(BAD_CHECK_DIGITS_LISTED)
    ]
    # Each log kept its first max_errors by line, so together they hold the first
    # max_errors of the file.
    errors = sorted([*reader.errors.kept, *staged.rejected.kept], key=lambda e: e.line)
    report.errors = errors[:max_errors]
    report.errors_omitted = reader.errors.count + staged.rejected.count - len(report.errors)
    if reader.unreadable:  # after every line read, so after every other error
        report.errors.append(reader.unreadable)


def _check(
    path: str | PathLike[str],
    staged: StagedRegistry,
    regions: tuple[str, ...],
    max_errors: int,
    progress: ProgressRelay,
    stop: threading.Event,
) -> tuple[RegistryReader | HeaderError, Encoding]:
    """Stage 1, in a worker thread: read, check and stage every row of the file."""
    opened = open_registry(path)
    try:
        try:
            reader = RegistryReader(
                opened.text,
                regions=regions,
                max_errors=max_errors,
                encoding=opened.encoding.label,
            )
        except HeaderError as err:
            return err, opened.encoding
        while not stop.is_set() and (chunk := reader.next_chunk(CHUNK_ROWS)):
            staged.add(chunk)
            progress.from_thread(ImportProgress("read", opened.raw.tell(), opened.size))
        progress.from_thread(ImportProgress("read", opened.size, opened.size))
        return reader, opened.encoding
    finally:
        opened.close()


async def _merge(
    engine: AsyncEngine,
    staged: StagedRegistry,
    now: datetime,
    write: bool,
    progress: ProgressRelay,
    stop: threading.Event,
) -> BatchPlanner:
    """Stage 2: merge the staged rows (or, without ``write``, count what would change)."""
    total = staged.accepted
    batches = staged.batches(BATCH_ROWS)

    def state(merged: int) -> ImportProgress:
        return ImportProgress("merge" if write else "compare", merged, total)

    if engine.dialect.name != "sqlite":
        async with engine.connect() as conn:
            await conn.begin()

            async def after_batch(merged: int) -> None:
                await progress.report(state(merged))

            planner = await merge_into_postgres(
                conn, batches, now, write=write, after_batch=after_batch
            )
            await (conn.commit() if write else conn.rollback())
            return planner

    database = engine.url.database
    if database and database != ":memory:" and "mode=memory" not in database:
        work = partial(
            merge_into_sqlite_file,
            database,
            batches,
            now,
            write,
            lambda merged: progress.from_thread(state(merged)),
            stop,
        )
        return await in_thread(work, stop)

    # In memory: only this engine's one connection reaches the database, so the merge
    # runs on it, on the event loop (there is no other connection to leave the lock to).
    def on_connection(conn: Connection) -> BatchPlanner:
        db: Any = conn.connection.dbapi_connection
        if not isinstance(db, sqlite3.Connection):  # aiosqlite's adapter
            raise ValueError("an in-memory SQLite registry needs the sqlite:/// driver")
        return merge_into_sqlite(
            db,
            batches,
            now,
            write=write,
            pause=False,
            after_batch=lambda merged: progress.from_greenlet(state(merged)),
        )

    async with engine.connect() as conn:
        return await conn.run_sync(on_connection)
