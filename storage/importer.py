"""Import the pass registry (a CSV export) into storage: upsert passes and persons.

The whole import is one transaction. Every invalid row is reported with its line
number and why (the first :data:`MAX_ERRORS` by line; the rest are counted); unless
``skip_invalid``, one invalid row means nothing is imported (the transaction is
rolled back), because half a registry is worse than yesterday's. A dry run does all
the work, reports, and rolls back.

The file is read (:mod:`storage.registry_csv`) and written
(:mod:`storage.registry_merge`) in chunks of :data:`CHUNK_ROWS`, and memory stays
flat however long the file is: which line first had each pass and ID number, how
repeated passes and people whose rows disagree are found, is kept in temporary
tables of the import's transaction, not in Python.

Status is derived (R7), so the import never sets it: a new phone on file for a
verified holder makes their passes pending by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.registry_csv import HeaderError, RegistryReader, RowError
from storage.registry_merge import Counts, RegistryMerge

CHUNK_ROWS = 1000
MAX_ERRORS = 1000  # row errors kept for the report; beyond it they are only counted
DEMO_REGISTRY = Path(__file__).resolve().parent / "demo" / "passes.csv"

__all__ = [
    "CHUNK_ROWS",
    "DEMO_REGISTRY",
    "MAX_ERRORS",
    "Counts",
    "ImportReport",
    "RowError",
    "import_registry",
]


@dataclass(slots=True)
class ImportReport:
    """What the import did (or, for a dry run or a rejected file, would have done).

    ``passes.invalid`` counts invalid rows; ``persons.invalid`` counts rows whose
    person disagreed with an earlier row for the same ID number.
    ``bad_check_digits`` counts people whose national or resident ID fails its check
    digit: imported (the registry holds test IDs like that) but worth a look.
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
    dry_run: bool = False
    committed: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_omitted


async def import_registry(
    engine: AsyncEngine,
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    regions: Iterable[str] = ("TW",),
    now: datetime | None = None,
    max_errors: int = MAX_ERRORS,
) -> ImportReport:
    """Import ``path`` (UTF-8, with or without BOM; columns in any order) into the
    migrated database behind ``engine``, on a connection of its own; the caller owns
    the engine.

    Columns: ``pass_no, id_no, name, phone, valid_from, valid_to, company`` and the
    optional ``verified_phone``. An empty ``phone`` means no phone on file (R6).
    ``verified_phone`` carries verification over from an earlier system: a value
    sets the pass's verified phone, but an empty cell leaves whatever verification
    the pass already has, so re-importing a plain export never erases the holders'
    own verifications. Errors beyond the first ``max_errors`` (by line) are only
    counted (``ImportReport.errors_omitted``).
    """
    report = ImportReport(dry_run=dry_run)
    file = await asyncio.to_thread(open, path, encoding="utf-8-sig", newline="")
    try:
        try:
            reader = RegistryReader(file, regions=regions, max_errors=max_errors)
        except HeaderError as err:
            report.errors.append(RowError(1, None, str(err)))
            return report
        async with engine.connect() as conn:
            await conn.begin()
            merge = RegistryMerge(conn, now or datetime.now(UTC), max_errors=max_errors)
            await merge.start()
            await _feed(reader, merge)
            await merge.finish()
            report.rows = reader.rows
            report.passes, report.persons = merge.passes, merge.persons
            report.passes.invalid = reader.invalid_rows + merge.rejected.count
            report.bad_check_digits = merge.bad_check_digits
            # Each log kept its first max_errors by line, so together they hold the
            # first max_errors of the file.
            errors = sorted([*reader.errors.kept, *merge.rejected.kept], key=lambda e: e.line)
            report.errors = errors[:max_errors]
            report.errors_omitted = reader.errors.count + merge.rejected.count - len(report.errors)
            if reader.unreadable:  # after every line read, so after every other error
                report.errors.append(reader.unreadable)
            # A file that stops being readable is never half-imported, even when
            # skipping invalid rows: what it holds after that point is unknown.
            complete = reader.unreadable is None
            if complete and not dry_run and (skip_invalid or report.ok):
                await conn.commit()
                report.committed = True
            else:
                await conn.rollback()
    finally:
        file.close()
    return report


async def _feed(reader: RegistryReader, merge: RegistryMerge) -> None:
    """Parse chunk n+1 in a worker thread while chunk n is written.

    Parsing (phonenumbers) is Python work and SQLite's inserts run in C without the
    GIL, so the two overlap; this is most of what keeps 100k rows under 10 s.
    """
    ahead = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk, CHUNK_ROWS))
    try:
        while chunk := await ahead:
            ahead = asyncio.ensure_future(asyncio.to_thread(reader.next_chunk, CHUNK_ROWS))
            await merge.apply(chunk)
    finally:
        # Never leave the thread reading a file we are about to close.
        if not ahead.done():
            await asyncio.wait([ahead])
        if not ahead.cancelled():
            ahead.exception()  # retrieved: a failed read-ahead is not worth a warning
