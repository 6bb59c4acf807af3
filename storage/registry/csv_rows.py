"""Reading the registry export: CSV rows into checked rows, or errors with line numbers.

This is the pure half of the import (no database): it turns text into normalised
values (:mod:`storage.registry.values`, which defers to :mod:`core.values`) and says
precisely what is wrong with a row. It reads the file chunk by chunk, so a 100,000-row
export never sits in memory at once.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, TextIO

from core.errors import PortPassError
from storage.registry.values import id_number, iso_date, pass_number, phone_parser

REQUIRED_COLUMNS = ("pass_no", "id_no", "name", "phone", "valid_from", "valid_to", "company")
OPTIONAL_COLUMNS = ("verified_phone",)
# The port system's own column names (docs/design.md#the-registry-is-the-authority), the
# one used in messages first; English names work too, in any case.
CHINESE_COLUMNS = {
    "pass_no": ("通行證號", "通行證號碼"),
    "id_no": ("身分證號", "身份證號", "身分證字號", "身份證字號"),
    "name": ("姓名",),
    "phone": ("手機號碼", "手機"),
    "valid_from": ("有效起日",),
    "valid_to": ("有效迄日",),
    "company": ("公司", "業者"),
    "verified_phone": ("已驗證手機號碼",),
}
_COLUMN_OF = {
    **{name: name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS},
    **{alias: name for name, aliases in CHINESE_COLUMNS.items() for alias in aliases},
}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}

_EXPECTED_DATE = "a date such as 2026/01/05, 2026-01-05 or 115/01/05"


def column_of(header: str) -> str | None:
    """The column a header cell names (``pass_no``...), or None if it is none of ours."""
    return _COLUMN_OF.get(unicodedata.normalize("NFKC", header).strip().lower())


def _both_names(column: str) -> str:
    return f"{CHINESE_COLUMNS[column][0]} {column}"


def _misspelt(column: str, unknown: list[str]) -> str:
    """What an unknown header cell close to a name of ``column`` (difflib) should be."""
    names = [column, *CHINESE_COLUMNS[column]]
    for cell in unknown:
        folded = unicodedata.normalize("NFKC", cell).strip().lower()
        close = difflib.get_close_matches(folded, names, n=1, cutoff=0.75)
        if close:
            return f"; the column {cell!r} looks like {close[0]}: rename it {close[0]}"
    return ""


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a file whose header row is ``header_line``: the one of comma,
    semicolon and tab that splits it into the most column names we know (then into
    the most cells); a comma if none does."""

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header_line], delimiter=delimiter), [])
        return sum(column_of(cell) is not None for cell in cells), len(cells)

    best = max(DELIMITERS, key=score)
    return best if score(best)[0] > 0 else ","


@dataclass(frozen=True, slots=True)
class RowError:
    """Why line ``line`` of the file was not imported; ``field`` is a column or None."""

    line: int
    field: str | None
    reason: str


class RegistryRow(NamedTuple):
    """One checked row: values normalised as the database holds them. (A tuple: made
    100,000 times per import, and cheaper to make than a dataclass.)"""

    line: int
    pass_no: str
    id_no: str
    name: str
    phone: str | None  # E.164; None: no phone on file (R6)
    valid_from: str  # ISO date, 2026-01-05
    valid_to: str
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


class RegistryReader:
    """Reads checked rows from an open CSV file; collects errors as it goes.

    ``next_chunk`` returns up to ``size`` valid rows (an empty list at the end of the
    file). Invalid rows go to ``errors`` (the first ``max_errors`` kept, the rest
    counted) and are counted in ``invalid_rows``. If the rest of the file cannot be
    read at all, ``unreadable`` says where and why (never dropped by the cap: it is
    why nothing may be imported). The delimiter (comma, semicolon or tab) is found
    from the header row; ``encoding`` only names the file's encoding in messages.
    """

    def __init__(
        self,
        file: TextIO,
        *,
        regions: Iterable[str] = ("TW",),
        max_errors: int = 1000,
        encoding: str = "UTF-8",
    ) -> None:
        self._encoding = encoding  # what the file is read as, for messages
        self._phone = phone_parser(tuple(regions))
        self.rows = 0
        self.invalid_rows = 0
        self.errors = ErrorLog(max_errors)
        self.unreadable: RowError | None = None  # the rest of the file could not be read
        try:
            first = file.readline()
        except UnicodeDecodeError as err:
            raise HeaderError(self._why_unreadable(err)) from err
        self.delimiter = sniff_delimiter(first)
        self._reader = csv.reader(itertools.chain([first], file), delimiter=self.delimiter)
        columns = self._read_header()
        # Where each column is, in RegistryRow's order; verified_phone may be absent.
        self._at = tuple(columns[name] for name in REQUIRED_COLUMNS)
        self._verified_at = columns.get("verified_phone")

    def _why_unreadable(self, err: Exception) -> str:
        if isinstance(err, UnicodeDecodeError):
            return (
                f"not {self._encoding} text from here on; "
                "save the export again as UTF-8, Big5 or UTF-16"
            )
        return f"not readable as CSV: {err}"

    def _read_header(self) -> dict[str, int]:
        try:
            header = next(self._reader, None)
        except (UnicodeDecodeError, csv.Error) as err:
            raise HeaderError(self._why_unreadable(err)) from err
        if header is None or not any(cell.strip() for cell in header):
            raise HeaderError("the file is empty; expected a header row")
        columns: dict[str, int] = {}
        for index, cell in enumerate(header):
            column = column_of(cell)
            if column is None:
                continue  # a column we do not need
            if column in columns:
                first = header[columns[column]].strip()
                raise HeaderError(
                    f"欄位重複 two columns mean {_both_names(column)}: {first}, "
                    f"{cell.strip()}; keep one"
                )
            columns[column] = index
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            unknown = [cell.strip() for cell in header if column_of(cell) is None]
            raise HeaderError(
                f"缺少欄位 missing column(s): {', '.join(map(_both_names, missing))}"
                + "".join(_misspelt(column, unknown) for column in missing)
            )
        self._width = len(header)
        return columns

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
            self.unreadable = RowError(self._reader.line_num + 1, None, self._why_unreadable(err))
        return chunk

    def _rows(self) -> Iterator[list[str]]:
        for fields in self._reader:
            if any(fields) and any(f.strip() for f in fields):  # blank lines are not rows
                self.rows += 1
                yield fields

    def _check(self, line: int, fields: list[str]) -> RegistryRow | None:
        if len(fields) != self._width:
            # Usually an unquoted comma in a name: every later column is shifted, so
            # checking the fields one by one would only add confusing errors.
            reason = f"{len(fields)} columns where the header has {self._width}"
            self.invalid_rows += 1
            self.errors.add(RowError(line, None, reason))
            return None
        # The first try is the common case, a row of normal values, without a branch
        # per field; any failure is then sorted out field by field.
        at = self._at
        cells = [fields[i].strip() for i in at]
        raw_verified = fields[self._verified_at].strip() if self._verified_at is not None else ""
        try:
            pass_no = pass_number(cells[0])
            id_no, bad_check_digit = id_number(cells[1])
            phone = self._phone(cells[3]) if cells[3] else None
            verified = self._phone(raw_verified) if raw_verified else None
            valid_from, valid_to = iso_date(cells[4]), iso_date(cells[5])
        except (PortPassError, ValueError):
            pass
        else:
            if (
                cells[2]
                and cells[6]
                and (phone is not None or not cells[3])
                and (verified is not None or not raw_verified)
                and valid_from <= valid_to
            ):
                return RegistryRow(
                    line,
                    pass_no,
                    id_no,
                    cells[2],
                    phone,
                    valid_from,
                    valid_to,
                    cells[6],
                    verified,
                    bad_check_digit,
                )
        self.invalid_rows += 1
        self.errors.extend(self._why(line, cells, raw_verified))
        return None

    def _why(self, line: int, cells: list[str], raw_verified: str) -> list[RowError]:
        """Every reason the row with these (stripped) cells is invalid."""
        errors: list[RowError] = []
        raw = dict(zip(REQUIRED_COLUMNS, cells, strict=True))

        def fail(name: str, reason: str) -> None:
            errors.append(RowError(line, name, reason))

        try:
            pass_number(raw["pass_no"])
        except PortPassError:
            fail("pass_no", "not a pass number such as KHPS113-000043")
        try:
            id_number(raw["id_no"])
        except PortPassError:
            fail("id_no", "not an ID number such as A123456789")
        for column in ("name", "company"):
            if not raw[column]:
                fail(column, "empty")
        if raw["phone"] and self._phone(raw["phone"]) is None:
            fail("phone", "not a mobile number such as 0912345678")
        if raw_verified and self._phone(raw_verified) is None:
            fail("verified_phone", "not a mobile number such as 0912345678")
        dates: list[str] = []
        for column in ("valid_from", "valid_to"):
            try:
                dates.append(iso_date(raw[column]))
            except ValueError:
                fail(column, f"{raw[column]!r} is not {_EXPECTED_DATE}")
        if len(dates) == 2 and dates[0] > dates[1]:
            fail("valid_to", "before valid_from")
        return errors
