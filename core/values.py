"""Checked values: pass numbers, ID numbers and phones.

People type full-width digits, lower case, spaces and dashes
(docs/design.md#what-people-type). Every raw string is parsed here once, NFKC first, into a
value that the rest of the system can trust; what cannot be parsed raises an error that says
what was expected."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import mul

import phonenumbers

from core.errors import (
    IdAllDigits,
    IdChecksumMismatch,
    IdLooksLikePassNumber,
    InvalidCode,
    InvalidIdNumber,
    InvalidPassNumber,
    InvalidPhone,
    PhoneRegionNotAllowed,
)

_DASHES = re.compile(r"[\s\-‐‑‒–—―−ー_.]+")
# The ROC year has three digits (100 = 2011). Allowing two made the split ambiguous once
# the dash is gone: ``KHPS113-00043`` (a serial one digit short) read as year 11, serial
# 300043, and the ID numbers ``QQ12345671`` and ``AK00000001`` read as pass numbers.
_PASS_RE = re.compile(r"([A-Z]{2,6})([0-9]{3})([0-9]{6})")
_NATIONAL_OR_NEW_RESIDENT = re.compile(r"^[A-Z][1289][0-9]{8}$")
_OTHER_ID = re.compile(r"^[A-Z0-9]{4,20}$")
# Letter values for the check digit, in the order the Ministry of the Interior assigns.
_ID_LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"
_ID_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
# The letter stands for two digits (A = 10, B = 11, ...), weighted 1 and 9.
_ID_LETTER_SUM = {
    letter: (n + 10) // 10 * _ID_WEIGHTS[0] + (n + 10) % 10 * _ID_WEIGHTS[1]
    for n, letter in enumerate(_ID_LETTERS)
}
_ID_DIGIT_WEIGHTS = _ID_WEIGHTS[2:]


_CODE_RE = re.compile(r"[0-9]{6}")


def _ascii(char: str) -> str:
    """A decimal digit of any script as its ASCII digit; a format character (Unicode
    category Cf: U+200B zero-width space, U+200E/U+200F direction marks, U+FEFF) as
    nothing; anything else as it is."""
    if char.isascii():
        return char
    if unicodedata.category(char) == "Cf":
        return ""
    digit = unicodedata.decimal(char, None)
    return char if digit is None else str(digit)


def normalise(raw: str) -> str:
    """What every typed value and code goes through first, and the only place that
    decides what counts as the same text.

    NFKC folds full-width forms (ＫＨＰＳ１１３, ０９１２) into ASCII. Digits of other
    scripts (Arabic-Indic ٤٣٢, Devanagari ४३२, Thai ๑๒๓), which NFKC keeps, become ASCII
    too, so a value never holds a digit that only looks right. Format characters, which
    phones and copy-paste leave invisibly around text (a right-to-left mark after an ID
    typed on an Arabic keyboard, a zero-width space from a web page), are dropped. Then
    surrounding white space is stripped.
    """
    if raw.isascii():  # NFKC keeps ASCII as it is, and no format character is ASCII
        return raw.strip()
    text = unicodedata.normalize("NFKC", raw)
    return "".join(_ascii(c) for c in text).strip()


def parse_code(raw: str) -> str:
    """A 6-digit verification code as typed (``٤٣٢٠٧٩``, ``４３２０７９``, ``432 079``) in
    ASCII digits, or :class:`InvalidCode`. Only ASCII digits may reach the code check:
    the keyed hash of ``٤٣٢٠٧٩`` is not that of ``432079``, and a correct code typed in
    another script would otherwise count as a wrong guess."""
    text = _DASHES.sub("", normalise(raw))
    if not _CODE_RE.fullmatch(text):
        raise InvalidCode(raw=raw)
    return text


@dataclass(frozen=True, slots=True, order=True)
class PassNumber:
    """通行證號, e.g. ``KHPS113-000043``: port and type letters, ROC year, serial."""

    value: str

    @classmethod
    def parse(cls, raw: str) -> PassNumber:
        text = _DASHES.sub("", normalise(raw).upper())
        match = _PASS_RE.fullmatch(text)
        if not match:
            raise InvalidPassNumber(raw=raw)
        letters, year, serial = match.groups()
        return cls(f"{letters}{year}-{serial}")

    @property
    def last4(self) -> str:
        return self.value[-4:]

    def __str__(self) -> str:
        return self.value


def id_check_digit_ok(value: str) -> bool:
    """The MOI check digit shared by national IDs and new-style resident IDs, for a
    ``value`` of their form (a letter and nine digits). The letter's share of the sum
    comes from a table and the digits' through ``map``: an import checks one ID per row,
    and this is 2.5 times as fast as spelling the sum out."""
    digits: int = sum(map(mul, map(int, value[1:]), _ID_DIGIT_WEIGHTS))
    return (_ID_LETTER_SUM[value[0]] + digits) % 10 == 0


@dataclass(frozen=True, slots=True, order=True)
class IdNumber:
    """身分證號: national ID, resident certificate, or another code the registry uses.

    National IDs (``A123456789``) and new-style resident IDs (``A800000014``) carry a
    check digit; a wrong one is almost always a typo, so it is reported before any
    lookup. The registry itself holds test IDs whose check digit is wrong (the guide's
    ``R123456788``), so callers that know better (an import, a holder who typed the same
    number twice) pass ``trust_check_digit=False``.

    Typed by a person (``trust_check_digit`` left on), digits alone (``12345``, a phone
    typed in the wrong place) are refused: no ID starts with a digit. The registry's
    own values are taken as they are.
    """

    value: str

    @classmethod
    def parse(cls, raw: str, *, trust_check_digit: bool = True) -> IdNumber:
        text = _DASHES.sub("", normalise(raw).upper())
        if _NATIONAL_OR_NEW_RESIDENT.match(text):
            if trust_check_digit and not id_check_digit_ok(text):
                raise IdChecksumMismatch(raw=raw, value=text)
            return cls(text)
        if trust_check_digit and text.isdigit():
            raise IdAllDigits(raw=raw)
        if _PASS_RE.fullmatch(text):
            # KHPS113-000043 would pass as a legacy code; it is the pass number typed
            # twice, and looking it up would only cost the holder a failed attempt.
            raise IdLooksLikePassNumber(raw=raw)
        if _OTHER_ID.match(text) and any(c.isdigit() for c in text):
            return cls(text)
        raise InvalidIdNumber(raw=raw)

    @property
    def has_check_digit(self) -> bool:
        return bool(_NATIONAL_OR_NEW_RESIDENT.match(self.value))

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, order=True)
class Phone:
    """手機號碼, held as E.164 (``+886912345678``) and shown as ``0912-345-678``.

    Only mobiles in the allowed regions parse: we send codes to these numbers, and no
    one should be able to make us text a premium or foreign number.
    """

    e164: str

    @classmethod
    def parse(cls, raw: str, *, regions: Iterable[str] = ("TW",)) -> Phone:
        """The phone ``raw`` names, or :class:`InvalidPhone` (or
        :class:`PhoneRegionNotAllowed`). Every inbound SMS parses its sender, and
        ``phonenumbers`` takes about 60 µs for it (5% of a code reply's CPU): the last
        :data:`_PARSED_PHONES` answers are remembered (refusals are not, so a flood of
        bad numbers cannot push the good ones out)."""
        return _parse_phone(raw, tuple(regions))

    @classmethod
    def _parse(cls, raw: str, allowed: tuple[str, ...]) -> Phone:
        text = normalise(raw)
        compact = _DASHES.sub("", re.sub(r"[()]", "", text))
        if compact.startswith("00"):
            compact = "+" + compact[2:]
        if re.fullmatch(r"886\d{9}", compact):
            compact = "+" + compact
        if not re.fullmatch(r"\+?\d{6,15}", compact):
            raise InvalidPhone(raw=raw)
        try:
            number = phonenumbers.parse(compact, allowed[0] if allowed else "TW")
        except phonenumbers.NumberParseException:
            raise InvalidPhone(raw=raw) from None
        if not phonenumbers.is_valid_number(number):
            raise InvalidPhone(raw=raw)
        region = phonenumbers.region_code_for_number(number)
        if region not in allowed:
            raise PhoneRegionNotAllowed(raw=raw, region=region or "?")
        kind = phonenumbers.number_type(number)
        if kind not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            raise InvalidPhone(raw=raw)
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    @property
    def display(self) -> str:
        """``0912-345-678`` for Taiwanese mobiles, the international form otherwise."""
        if self.e164.startswith("+886") and len(self.e164) == 13:
            national = "0" + self.e164[4:]
            return f"{national[:4]}-{national[4:7]}-{national[7:]}"
        number = phonenumbers.parse(self.e164)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    @property
    def national(self) -> str:
        return self.display.replace("-", "")

    def __str__(self) -> str:
        return self.e164


#: How many parsed phones :meth:`Phone.parse` remembers (about 200 bytes each).
_PARSED_PHONES = 4096


@lru_cache(maxsize=_PARSED_PHONES)
def _parse_phone(raw: str, allowed: tuple[str, ...]) -> Phone:
    return Phone._parse(raw, allowed)
