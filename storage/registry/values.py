"""Registry cells to the values the database stores, quickly for the forms exports use.

:mod:`core.values` is the authority on pass numbers, ID numbers and phones: it folds
full-width characters, dashes and spaces, and phones go through ``phonenumbers``,
whose parse and type check are most of what a 100,000-row import costs (about 30 µs a
phone). A registry export, though, nearly always holds these values already in their
normal form: ``KHPS113-000043``, ``A123456789``, ``0912345678``. For exactly those
forms the result is known without the work (it is the cell itself, or ``+886`` and the
digits), so it is given directly; every other cell goes to :mod:`core.values`.
``tests/unit/test_registry_values.py`` checks that both ways agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache

from core.errors import PortPassError
from core.values import IdNumber, PassNumber, Phone, id_check_digit_ok

ROC_YEAR_OFFSET = 1911  # 民國 1 年 = 1912

# PassNumber.parse gives exactly this form, so a cell in it is its own value.
_NORMAL_PASS = re.compile(r"[A-Z]{2,6}[0-9]{3}-[0-9]{6}")
# A national or new-style resident ID (the ones with a check digit), as IdNumber holds it.
_NORMAL_ID = re.compile(r"[A-Z][1289][0-9]{8}")
# A Taiwanese mobile in national form. phonenumbers' metadata for TW: mobiles are
# 9[0-8] and 7 digits after the trunk 0 (9 9x is a personal number, not a mobile), and
# no other number type of TW starts with 9, so Phone.parse gives +886 and the digits.
_TW_MOBILE = re.compile(r"09[0-8][0-9]{7}")
_DATE = re.compile(r"(\d{2,4})[/\-.](\d{1,2})[/\-.](\d{1,2})")


def pass_number(cell: str) -> str:
    """The pass number in ``cell``; raises :class:`core.errors.PortPassError`."""
    if _NORMAL_PASS.fullmatch(cell):
        return cell
    return PassNumber.parse(cell).value


def id_number(cell: str) -> tuple[str, bool]:
    """The ID number in ``cell``, and whether it is one with a check digit that fails.

    Raises :class:`core.errors.PortPassError`. A wrong check digit is not an error
    here: the registry holds test IDs like that (the guide's ``R123456788``)."""
    if _NORMAL_ID.fullmatch(cell):
        return cell, not id_check_digit_ok(cell)
    parsed = IdNumber.parse(cell, trust_check_digit=False)
    return parsed.value, parsed.has_check_digit and not id_check_digit_ok(parsed.value)


def phone_parser(regions: tuple[str, ...]) -> Callable[[str], str | None]:
    """A function from a cell to its phone in E.164, or None if it is not an allowed
    mobile. Other forms than ``09xxxxxxxx`` are cached: one holder's phone repeats."""

    @lru_cache(maxsize=8192)
    def parse_other(cell: str) -> str | None:
        try:
            return Phone.parse(cell, regions=regions).e164
        except PortPassError:
            return None

    # Phone.parse reads a national number in the first allowed region.
    if not regions or regions[0] != "TW":
        return parse_other

    def parse(cell: str) -> str | None:
        if _TW_MOBILE.fullmatch(cell):
            return "+886" + cell[1:]
        return parse_other(cell)

    return parse


def parse_date(raw: str) -> date:
    """``2026/01/05``, ``2026-01-05``, or the ROC calendar's ``115/01/05``.

    A year of two or three digits is an ROC year (``115`` = 2026): registry exports
    from Taiwanese systems use it, and no pass is dated in the first millennium.
    Raises ``ValueError``.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(raw)
    year_text, month, day = match.groups()
    year = int(year_text)
    if len(year_text) < 4:
        year += ROC_YEAR_OFFSET
    return date(year, int(month), int(day))


@lru_cache(maxsize=4096)
def iso_date(cell: str) -> str:
    """The date in ``cell`` as ISO text (``2026-01-05``, what the database's DATE holds;
    text order is date order). Cached: an export has few distinct dates."""
    return parse_date(cell).isoformat()
