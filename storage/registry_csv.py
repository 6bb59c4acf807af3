"""Reading the registry export: CSV rows into checked rows, or errors with line numbers.

This is the pure half of the import (no database): it turns text into normalised
values with :mod:`core.values` and says precisely what is wrong with a row. It reads
the file chunk by chunk, so a 100,000-row export never sits in memory at once.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TextIO

from core.errors import PortPassError
from core.values import IdNumber, PassNumber, Phone, id_check_digit_ok

REQUIRED_COLUMNS = ("pass_no", "id_no", "name", "phone", "valid_from", "valid_to", "company")
OPTIONAL_COLUMNS = ("verified_phone",)
ROC_YEAR_OFFSET = 1911  # 民國 1 年 = 1912

_DATE = re.compile(r"^(\d{2,4})[/\-.](\d{1,2})[/\-.](\d{1,2})$")
_EXPECTED_DATE = "a date such as 2026/01/05, 2026-01-05 or 115/01/05"


@dataclass(frozen=True, slots=True)
class RowError:
    """Why line ``line`` of the file was not imported; ``field`` is a column or None."""

    line: int
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One checked row: values normalised as the database holds them."""

    line: int
    pass_no: str
    id_no: str
    name: str
    phone: str | None  # E.164; None: no phone on file (R6)
    valid_from: date
    valid_to: date
    company: str
    verified_phone: str | None  # None: the file says nothing about verification
    bad_check_digit: bool


class ErrorLog:
    """Row errors, kept up to ``limit`` and counted beyond it.

    Errors arrive in line order, so what is kept is the first ``limit`` of them: a
    file of 100,000 garbage rows costs ``limit`` error objects, not 100,000.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[RowError] = []
        self.count = 0

    def add(self, error: RowError) -> None:
        self.count += 1
        if len(self.kept) < self.limit:
            self.kept.append(error)

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.add(error)


class HeaderError(ValueError):
    """The header row lacks a required column: no row can be read."""


def parse_date(raw: str) -> date:
    """``2026/01/05``, ``2026-01-05``, or the ROC calendar's ``115/01/05``.

    A year of two or three digits is an ROC year (``115`` = 2026): registry exports
    from Taiwanese systems use it, and no pass is dated in the first millennium.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _DATE.match(text)
    if not match:
        raise ValueError(raw)
    year_text, month, day = match.groups()
    year = int(year_text)
    if len(year_text) < 4:
        year += ROC_YEAR_OFFSET
    return date(year, int(month), int(day))


def _unreadable(err: Exception) -> str:
    if isinstance(err, UnicodeDecodeError):
        return "not UTF-8 text from here on; save the export as UTF-8 (not Big5)"
    return f"not readable as CSV: {err}"


class RegistryReader:
    """Reads checked rows from an open CSV file; collects errors as it goes.

    ``next_chunk`` returns up to ``size`` valid rows (an empty list at the end of the
    file). Invalid rows go to ``errors`` (the first ``max_errors`` kept, the rest
    counted) and are counted in ``invalid_rows``. If the rest of the file cannot be
    read at all, ``unreadable`` says where and why (never dropped by the cap: it is
    why nothing may be imported). One reader belongs to one thread at a time: the
    importer reads the next chunk in a worker thread while it writes the previous one.
    """

    def __init__(
        self, file: TextIO, *, regions: Iterable[str] = ("TW",), max_errors: int = 1000
    ) -> None:
        self._reader = csv.reader(file)
        self._regions = tuple(regions)
        self._phone = lru_cache(maxsize=8192)(self._parse_phone)
        self.rows = 0
        self.invalid_rows = 0
        self.errors = ErrorLog(max_errors)
        self.unreadable: RowError | None = None  # the rest of the file could not be read
        self._columns = self._read_header()

    def _read_header(self) -> dict[str, int]:
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as err:
            raise HeaderError(_unreadable(err)) from err
        if header is None:
            raise HeaderError("the file is empty; expected a header row")
        names = [unicodedata.normalize("NFKC", h).strip().lower() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise HeaderError(f"missing column(s): {', '.join(missing)}")
        self._width = len(header)
        wanted = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
        return {name: names.index(name) for name in wanted if name in names}

    def next_chunk(self, size: int) -> list[RegistryRow]:
        chunk: list[RegistryRow] = []
        if self.unreadable:
            return chunk
        try:
            for fields in self._rows():
                row = self._check(self._reader.line_num, fields)
                if row is not None:
                    chunk.append(row)
                    if len(chunk) >= size:
                        break
        except (UnicodeDecodeError, csv.Error) as err:
            # Text is decoded in blocks, so the bad byte is at or after this line.
            self.unreadable = RowError(self._reader.line_num + 1, None, _unreadable(err))
        return chunk

    def _rows(self) -> Iterator[list[str]]:
        for fields in self._reader:
            if any(f.strip() for f in fields):  # blank lines are not rows
                self.rows += 1
                yield fields

    def _check(self, line: int, fields: list[str]) -> RegistryRow | None:
        errors: list[RowError] = []

        def field(name: str) -> str:
            index = self._columns.get(name)
            return fields[index].strip() if index is not None and index < len(fields) else ""

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(line, name, reason))

        if len(fields) != self._width:
            # Usually an unquoted comma in a name: every later column is shifted, so
            # checking the fields one by one would only add confusing errors.
            reason = f"{len(fields)} columns where the header has {self._width}"
            self.invalid_rows += 1
            self.errors.add(RowError(line, None, reason))
            return None

        pass_no = id_no = None
        valid_from = valid_to = None
        phone: str | None = None
        verified: str | None = None
        try:
            pass_no = PassNumber.parse(field("pass_no")).value
        except PortPassError:
            fail("pass_no", "not a pass number such as KHPS113-000043")
        try:
            id_no = IdNumber.parse(field("id_no"), trust_check_digit=False)
        except PortPassError:
            fail("id_no", "not an ID number such as A123456789")
        name = field("name")
        if not name:
            fail("name", "empty")
        company = field("company")
        if not company:
            fail("company", "empty")
        if raw_phone := field("phone"):
            phone = self._phone(raw_phone)
            if phone is None:
                fail("phone", "not a mobile number such as 0912345678")
        if raw_verified := field("verified_phone"):
            verified = self._phone(raw_verified)
            if verified is None:
                fail("verified_phone", "not a mobile number such as 0912345678")
        for column in ("valid_from", "valid_to"):
            try:
                parsed = parse_date(field(column))
            except ValueError:
                fail(column, f"{field(column)!r} is not {_EXPECTED_DATE}")
                continue
            if column == "valid_from":
                valid_from = parsed
            else:
                valid_to = parsed
        if valid_from and valid_to and valid_from > valid_to:
            fail("valid_to", "before valid_from")

        if errors or pass_no is None or id_no is None or valid_from is None or valid_to is None:
            self.invalid_rows += 1
            self.errors.extend(errors)
            return None
        return RegistryRow(
            line=line,
            pass_no=pass_no,
            id_no=id_no.value,
            name=name,
            phone=phone,
            valid_from=valid_from,
            valid_to=valid_to,
            company=company,
            verified_phone=verified,
            bad_check_digit=id_no.has_check_digit and not id_check_digit_ok(id_no.value),
        )

    def _parse_phone(self, raw: str) -> str | None:
        # Cached: an export repeats the same phones (one person, many passes), and
        # phonenumbers is the slowest step of the import.
        try:
            return Phone.parse(raw, regions=self._regions).e164
        except PortPassError:
            return None
