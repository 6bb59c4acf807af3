"""The import's quick way with registry cells gives what core.values gives, always.

:mod:`storage.registry.values` answers the normal forms itself (for speed) and hands
everything else to :mod:`core.values`; these properties check both ways agree, for
normal forms and for any text, so a change to either side cannot make the import store
something a holder's typed value would not match."""

from __future__ import annotations

import string
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.errors import PortPassError
from core.values import IdNumber, PassNumber, Phone, id_check_digit_ok
from storage.registry.values import id_number, iso_date, pass_number, phone_parser

UPPER = st.sampled_from(string.ascii_uppercase)
DIGITS = st.text(alphabet=string.digits, min_size=1, max_size=1)
CELL_CHARS = st.sampled_from(string.ascii_letters + string.digits + "-+ ()/.０１９ＫＨ\u3000")


def outcome(parse: Callable[[str], object], cell: str) -> object:
    """What ``parse`` makes of ``cell``: its value, or the class of error it raises."""
    try:
        return parse(cell)
    except PortPassError as error:
        return type(error)


@st.composite
def normal_pass_numbers(draw: st.DrawFn) -> str:
    letters = "".join(draw(st.lists(UPPER, min_size=2, max_size=6)))
    digits = draw(st.text(alphabet=string.digits, min_size=9, max_size=9))
    return f"{letters}{digits[:3]}-{digits[3:]}"


@given(st.one_of(normal_pass_numbers(), st.text(CELL_CHARS, max_size=16)))
@example("KHPS113-000043")
@example("khps113000043")
def test_pass_numbers_agree_with_core(cell: str) -> None:
    assert outcome(pass_number, cell) == outcome(lambda c: PassNumber.parse(c).value, cell)


@st.composite
def normal_ids(draw: st.DrawFn) -> str:
    return (
        draw(UPPER)
        + draw(st.sampled_from("1289"))
        + draw(st.text(alphabet=string.digits, min_size=8, max_size=8))
    )


def core_id(cell: str) -> tuple[str, bool]:
    parsed = IdNumber.parse(cell, trust_check_digit=False)
    return parsed.value, parsed.has_check_digit and not id_check_digit_ok(parsed.value)


@given(st.one_of(normal_ids(), st.text(CELL_CHARS, max_size=14)))
@example("R123456788")  # the guide's test ID: its check digit fails
@example("TEST0521")
@example("QQ12345673")
def test_id_numbers_agree_with_core(cell: str) -> None:
    assert outcome(id_number, cell) == outcome(core_id, cell)


def core_phone(cell: str, regions: tuple[str, ...]) -> str | None:
    try:
        return Phone.parse(cell, regions=regions).e164
    except PortPassError:
        return None


@pytest.mark.parametrize("prefix", [f"09{n:02d}" for n in range(100)])
@settings(max_examples=5, deadline=None)
@given(suffix=st.text(alphabet=string.digits, min_size=6, max_size=6))
def test_every_09_prefix_agrees_with_core(prefix: str, suffix: str) -> None:
    # Every 09xx range: mobiles (0900-0989) and the personal numbers (099x) that are not.
    cell = prefix + suffix
    assert phone_parser(("TW",))(cell) == core_phone(cell, ("TW",))


@given(st.text(CELL_CHARS, max_size=16), st.sampled_from([("TW",), ("TW", "US"), ("US", "TW")]))
@example("0912-345-678", ("TW",))
@example("+886 912 345 678", ("TW",))
@example("0912345678", ("US", "TW"))  # read as a US number first: refused, as core does
def test_any_phone_cell_agrees_with_core(cell: str, regions: tuple[str, ...]) -> None:
    assert phone_parser(regions)(cell) == core_phone(cell, regions)


@pytest.mark.parametrize(
    ("cell", "iso"),
    [
        ("2026/01/05", "2026-01-05"),
        ("2026-1-5", "2026-01-05"),
        ("115/01/05", "2026-01-05"),
        ("99/12/31", "2010-12-31"),
        ("１１６/０１/０４", "2027-01-04"),
    ],
)
def test_dates_are_iso_text(cell: str, iso: str) -> None:
    assert iso_date(cell) == iso


@pytest.mark.parametrize("cell", ["2026/13/05", "2026/02/30", "20260105", "", "115年1月5日"])
def test_impossible_dates_are_refused(cell: str) -> None:
    with pytest.raises(ValueError):
        iso_date(cell)
