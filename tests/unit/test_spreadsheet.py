"""CSV for Excel: every cell a spreadsheet would run as a formula (or a DDE call) is
written as text, whatever keyboard typed it; ordinary cells are left as they are."""

from __future__ import annotations

import csv
import io

import pytest

from core.spreadsheet import excel_csv


def cells_as_read(data: bytes) -> list[list[str]]:
    """What a spreadsheet reads from the file: the BOM-marked UTF-8, split into cells."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("https://evil.example","點此")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "|cmd /C calc",  # DDE in older Excel and LibreOffice
        '＝HYPERLINK("https://evil.example")',  # full width, as a Chinese IME types it
        "＋1+1",
        "－1+1",
        "＠SUM(A1)",
        "｜cmd",
        '\u200b=HYPERLINK("https://evil.example")',  # led by a zero-width space
        "\ufeff=1+1",  # led by a byte-order mark
        "\u2060+1",  # a word joiner: another invisible format character
    ],
)
def test_csv_formula_cells_stay_text_in_a_spreadsheet(cell: str) -> None:
    [header, row] = cells_as_read(excel_csv(["公司"], [[cell]]))
    assert header == ["公司"]
    assert row == ["'" + cell]


@pytest.mark.parametrize(
    "cell", ["KHPS113-000043", "臺灣港務", "0960-***-411", "Acme Ltd. (=)", "", "a|b"]
)
def test_csv_ordinary_cells_are_written_as_they_are(cell: str) -> None:
    [_, row] = cells_as_read(excel_csv(["x"], [[cell]]))
    assert row == [cell]
