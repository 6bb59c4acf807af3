"""CSV that Excel on a Traditional Chinese system opens correctly and safely: UTF-8 with
a byte-order mark (without it Excel reads Big5 and shows mojibake), CRLF line ends, and
no cell that a spreadsheet would run as a formula (CSV injection: a registry name or a
gate system's detail typed as ``=HYPERLINK(...)`` must stay text)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence

#: A spreadsheet runs a cell that starts with one of these as a formula, or (``|``)
#: as a DDE call in older Excel and LibreOffice. The full-width forms are there
#: because an IME on a Chinese system types them, and a spreadsheet may fold them to
#: ASCII before it decides what the cell is.
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r", "＝", "＋", "－", "＠", "｜")


def defuse(value: str) -> str:
    """The cell as text: a leading apostrophe keeps a formula from running. A cell led
    by an invisible format character (zero-width space U+200B, BOM U+FEFF, …) gets
    one too: a spreadsheet may drop the mark and then see what follows it, and no
    honest registry value starts with one."""
    if value.startswith(FORMULA_START) or (value and unicodedata.category(value[0]) == "Cf"):
        return "'" + value
    return value


def excel_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([defuse(cell) for cell in header])
    for row in rows:
        writer.writerow([defuse(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")
