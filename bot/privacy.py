"""Personal data (ID numbers, phones, names) kept out of the process's log, whoever
writes the line and at whatever level: the bot tells holders that ID and phone numbers
in the logs are always masked (docs/security.md, "Personal data in logs").

Three layers, because no one of them is enough:

1. At the source: the SQL engine is made with ``hide_parameters`` (:mod:`storage.db`),
   so neither SQL logging nor a database error's text carries bound values.
2. :class:`LibraryFloor`, a filter on the process's handler, drops the records of the
   libraries that dump call parameters below the level where they do (table
   :data:`FLOORS`), even when someone turns those loggers up: a logger's level is
   anyone's to change (``echo=True`` on an engine does it), the handler's filter is not.
   Names have no shape a pattern could find, so for them this is the defence.
3. :func:`mask_personal_data`, applied by the formatters to every finished line (text
   and JSON, message and traceback), masks whatever still has the shape of a Taiwan ID
   or resident certificate number or a mobile number, as the views mask them
   (``R12*****80``, ``0912-***-678``).
"""

from __future__ import annotations

import logging
import re

#: Library loggers and the lowest level of theirs that reaches the log, and why.
FLOORS: dict[str, int] = {
    # DEBUG: every Bot API call with its parameters and result (message texts with ID
    # numbers, names, phones; button data), and webhook bodies as received.
    "telegram": logging.INFO,
    # INFO: every statement with its parameters; DEBUG: result rows.
    "sqlalchemy": logging.WARNING,
    # INFO: each API request's payload (To, Body) and headers.
    "twilio": logging.WARNING,
    # DEBUG: each statement it runs, with its parameters (the aiosqlite driver).
    "aiosqlite": logging.INFO,
}

#: National ID (A123456789), new and old resident certificate (A800000014, AB12345678):
#: a letter, a letter or digit, eight digits, standing alone.
_ID_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9]\d{6})(\d{2})(?![A-Za-z0-9])")
#: Mobiles as people write them (0912345678, 0912-345-678, 0912 345 678) and as E.164
#: (+886912345678, 886912345678, %2B886912345678 in a form body), and any other
#: international number (+ and 8 to 15 digits).
_PHONE = re.compile(
    r"(?:\+|%2B|(?<![A-Za-z0-9+]))(?:886[- ]?|0)9\d{2}[- ]?\d{3}[- ]?\d{3}(?!\d)"
    r"|\+\d{8,15}(?!\d)"
)
#: Both shapes hold six digits in a row, or three, a dash or space, three: most lines
#: (timestamps, ids, masked values) have neither and skip the two patterns above.
_MAYBE = re.compile(r"\d{3}[- ]?\d{3}")


def _masked_id(match: re.Match[str]) -> str:
    head = match.group(1)
    return f"{head[:3]}{'*' * (len(head) - 3)}{match.group(2)}"


def _masked_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0).replace("%2B", "+"))
    national = "0" + digits[3:] if digits.startswith("886") else digits
    if national.startswith("09") and len(national) == 10:
        return f"{national[:4]}-***-{national[-3:]}"
    return f"+{'*' * (len(digits) - 2)}{digits[-2:]}"


def mask_personal_data(text: str) -> str:
    """``text`` with ID numbers and phones masked (see the module docstring)."""
    if _MAYBE.search(text) is None:
        return text
    return _PHONE.sub(_masked_phone, _ID_NUMBER.sub(_masked_id, text))


class LibraryFloor(logging.Filter):
    """Drops a record of a library in :data:`FLOORS` below that library's floor."""

    def __init__(self, floors: dict[str, int] | None = None) -> None:
        super().__init__()
        self._floors = FLOORS if floors is None else floors

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        for library, floor in self._floors.items():
            if name == library or name.startswith(library + "."):
                return record.levelno >= floor
        return True
