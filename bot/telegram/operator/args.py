"""The words after an operator command, as checked values (STYLE 5): a status filter, a
pass number, a new phone. Anything else raises the input error that says what was
expected, with an example."""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import InvalidInput, InvalidPassNumber
from core.model import Status
from core.status import status_from_word
from core.values import PassNumber, Phone


class UnknownStatus(ValueError):
    """``/passes`` with a word that names no status."""


def parse_status(args: Sequence[str]) -> Status | None:
    """``/passes`` → every status; ``/passes 未驗證`` or ``/passes unverified`` → one."""
    if not args:
        return None
    status = status_from_word(" ".join(args))
    if status is None:
        raise UnknownStatus(" ".join(args))
    return status


def parse_pass(args: Sequence[str]) -> PassNumber:
    """The whole rest of the line: ``KHPS113 000043`` is one pass number."""
    return PassNumber.parse(" ".join(args))


def parse_send(args: Sequence[str], regions: tuple[str, ...]) -> tuple[PassNumber, Phone | None]:
    """``PASS_NO [NEW_PHONE]``; either may be typed with spaces (``KHPS113 000043 0912 345
    678``), so the pass number is the shortest leading run of words that is one, and the
    rest, if any, must be a phone."""
    for end in range(1, len(args) + 1):
        try:
            pass_no = PassNumber.parse(" ".join(args[:end]))
        except InvalidInput:
            continue
        rest = " ".join(args[end:])
        return pass_no, Phone.parse(rest, regions=regions) if rest else None
    raise InvalidPassNumber(raw=" ".join(args))
