"""CSV that Excel on a Traditional Chinese system opens correctly and safely: UTF-8 with
a byte-order mark (without it Excel reads Big5 and shows mojibake), CRLF line ends, and
no cell that a spreadsheet would run as a formula (CSV injection: a registry name or a
gate system's detail typed as ``=HYPERLINK(...)`` must stay text)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: str) -> str:
    """The cell as text: a leading apostrophe keeps a formula from running."""
    return "'" + value if value.startswith(FORMULA_START) else value


def excel_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([defuse(cell) for cell in header])
    for row in rows:
        writer.writerow([defuse(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
