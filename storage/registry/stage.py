"""The staging database: the whole file checked before the registry is touched.

An import first reads every row of the file into a private SQLite database of its own
(an anonymous temporary file, which SQLite deletes when it is closed), and only then
writes to the registry (:mod:`storage.registry.merge`). So everything that can make an
import refuse a file (an invalid row, a repeated pass, one person's rows disagreeing,
a file that stops being readable) is known before the first write, and checking takes
no lock on the registry at all: on SQLite the service keeps writing meanwhile.

Staging also keeps memory flat however long the file is: which line first had each
pass and ID number is in the staging database, not in Python.

What is staged is the rows that are accepted, in the form the registry's SQLite tables
hold them (text dates, E.164 phones), each with the line of its holder's first row.
:meth:`StagedRegistry.batches` gives them back holder by holder (a holder's person
record and all of their passes in one batch), which is what lets a SQLite import commit
batch by batch and still never show a holder half-imported.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from storage.registry.csv_rows import ErrorLog, RegistryRow, RowError


class StagedRow(NamedTuple):
    """An accepted row, as the registry stores it; ``person_line`` is the line of the
    first row of its ID number (the row whose name and phone it agrees with)."""

    line: int
    pass_no: str
    id_no: str
    name: str
    phone: str | None
    company: str
    valid_from: str  # ISO date: what SQLite's DATE column holds
    valid_to: str
    verified_phone: str | None
    person_line: int


class BadCheckDigit(NamedTuple):
    """An ID number that fails its check digit, and the line of its first row."""

    line: int
    id_no: str


_SCHEMA = """
CREATE TABLE persons (
    id_no TEXT PRIMARY KEY, line INTEGER NOT NULL, name TEXT NOT NULL, phone TEXT,
    bad_check_digit INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE passes (
    line INTEGER NOT NULL, pass_no TEXT NOT NULL UNIQUE, id_no TEXT NOT NULL,
    name TEXT NOT NULL, phone TEXT, company TEXT NOT NULL, valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL, verified_phone TEXT, person_line INTEGER NOT NULL,
    PRIMARY KEY (person_line, line)  -- the order of the merge: holder by holder
) WITHOUT ROWID;
"""
_COLUMNS = ", ".join(StagedRow._fields)
_PLACES = ", ".join("?" * len(StagedRow._fields))
_INSERT_PASS = f"INSERT INTO passes ({_COLUMNS}) VALUES ({_PLACES})"  # noqa: S608 (constants)


class StagedRegistry:
    """The accepted rows of one file, and the rows refused for contradicting them.

    ``add`` takes checked rows in file order; a row whose pass number an earlier row
    already had, or whose person (ID number) an earlier row gave another name or phone,
    goes to ``rejected`` (the first ``max_errors`` kept, all counted). One instance is
    used by one thread at a time (the importer checks in one worker thread and merges
    in another, one after the other).
    """

    def __init__(self, *, max_errors: int = 1000) -> None:
        # "": a private temporary database on disk, deleted on close.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # scratch: nothing to recover
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._db.execute("BEGIN")  # one transaction for the whole staging: no commit cost
        self.rejected = ErrorLog(max_errors)
        self.persons_invalid = 0  # rows refused because their person disagreed
        self.bad_check_digits = 0  # people whose ID fails its check digit
        self.accepted = 0

    def close(self) -> None:
        self._db.close()

    def add(self, rows: list[RegistryRow]) -> None:
        """Stage ``rows`` (the next checked rows of the file, in line order)."""
        if not rows:
            return
        pass_lines: dict[str, int] = dict(
            self._db.execute(
                "SELECT pass_no, line FROM passes"
                " WHERE pass_no IN (SELECT value FROM json_each(?))",
                (json.dumps([row.pass_no for row in rows]),),
            )
        )
        known: dict[str, tuple[str, str | None, int]] = {
            id_no: (name, phone, line)
            for id_no, name, phone, line in self._db.execute(
                "SELECT id_no, name, phone, line FROM persons"
                " WHERE id_no IN (SELECT value FROM json_each(?))",
                (json.dumps(list({row.id_no for row in rows})),),
            )
        }
        new_persons: list[tuple[str, int, str, str | None, bool]] = []
        staged: list[StagedRow] = []
        for row in rows:
            first = pass_lines.get(row.pass_no)
            if first is not None:
                reason = f"{row.pass_no} is already on line {first}"
                self.rejected.add(RowError(row.line, "pass_no", reason))
                continue
            person = known.get(row.id_no)
            if person is not None and (person[0], person[1]) != (row.name, row.phone):
                self._disagrees(row, person)
                continue
            pass_lines[row.pass_no] = row.line
            if person is None:
                person = known[row.id_no] = (row.name, row.phone, row.line)
                new_persons.append((row.id_no, row.line, row.name, row.phone, row.bad_check_digit))
                self.bad_check_digits += row.bad_check_digit
            staged.append(
                StagedRow(
                    row.line,
                    row.pass_no,
                    row.id_no,
                    row.name,
                    row.phone,
                    row.company,
                    row.valid_from,
                    row.valid_to,
                    row.verified_phone,
                    person[2],
                )
            )
        self._db.executemany("INSERT INTO persons VALUES (?, ?, ?, ?, ?)", new_persons)
        self._db.executemany(_INSERT_PASS, staged)
        self.accepted += len(staged)

    def _disagrees(self, row: RegistryRow, person: tuple[str, str | None, int]) -> None:
        name, phone, line = person
        differ = " and ".join(
            label
            for label, flag in (("name", name != row.name), ("phone", phone != row.phone))
            if flag
        )
        reason = f"same ID number as line {line} but a different {differ}"
        self.rejected.add(RowError(row.line, "id_no", reason))
        self.persons_invalid += 1

    def bad_check_digit_ids(self, limit: int) -> list[BadCheckDigit]:
        """The first ``limit`` people (by line) whose ID number fails its check digit."""
        query = "SELECT line, id_no FROM persons WHERE bad_check_digit ORDER BY line LIMIT ?"
        return [BadCheckDigit(*found) for found in self._db.execute(query, (limit,))]

    def batches(self, size: int) -> Iterator[list[StagedRow]]:
        """The staged rows holder by holder, in batches of at least ``size`` rows (or
        the rest), never splitting one holder's rows between two batches."""
        cursor = self._db.execute(
            f"SELECT {_COLUMNS} FROM passes ORDER BY person_line, line"  # noqa: S608 (constants)
        )
        cursor.row_factory = lambda _cursor, values: StagedRow(*values)
        batch: list[StagedRow] = []
        for row in cursor:
            if len(batch) >= size and row.person_line != batch[-1].person_line:
                yield batch
                batch = []
            batch.append(row)
        if batch:
            yield batch
