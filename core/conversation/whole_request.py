"""A whole request in one message: ``驗證 KHPS113-000043 QQ12345673``.

People who have done this before, or who copy the three words from an operator's
instructions, send the pass number and the ID number together instead of answering one
question at a time. This module only reads such a message apart; the engine decides
what to do with it (ask for the phone on Telegram, go straight to the confirm question
over SMS, where the phone is the sender's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidInput
from core.values import PassNumber, normalise

# The start keyword may be written against the pass number (驗證KHPS113-000043); the
# English ones must stand alone, so ``VKHPS…`` is not read as ``V`` + ``KHPS…``.
_KEYWORD = re.compile(r"^(?:驗證|验证|VERIFY\b|V\b)\s*")
# Between the two values: spaces (NFKC has made full-width ones ASCII), commas, 、 and /.
_SEPARATORS = re.compile(r"[\s,;、/]+")


@dataclass(frozen=True, slots=True)
class WholeRequest:
    """The pass number, checked, and the ID number as typed (the engine checks it, so a
    wrong check digit is questioned the same way as when it is typed on its own)."""

    pass_no: PassNumber
    id_text: str
    keyword: bool


def read_whole_request(text: str) -> WholeRequest | None:
    """The pass and ID numbers of a one-message request, or ``None`` if ``text`` is not
    one. The last word is the ID number; everything before it must be a pass number
    (``KHPS113 000043`` typed with a space included)."""
    upper = normalise(text).upper()
    rest = _KEYWORD.sub("", upper, count=1)
    words = [w for w in _SEPARATORS.split(rest) if w]
    if len(words) < 2:
        return None
    try:
        pass_no = PassNumber.parse("".join(words[:-1]))
    except InvalidInput:
        return None
    return WholeRequest(pass_no=pass_no, id_text=words[-1], keyword=rest != upper)
