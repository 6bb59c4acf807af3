"""Errors are data: each carries the fields a channel needs to explain it.

Every error names a ``key`` in :mod:`core.messages`; channels render
``messages.render_error(err, lang)`` and never build texts themselves. ``log_fields``
is what may be logged: no ID numbers or phones in the clear.

Why one module: it is the one table of what can go wrong and which message says so;
a channel reading it, or a test checking that every error has a message in every
language, reads it whole.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar


class PortPassError(Exception):
    """Base of every error a user can cause; ``key`` selects the message."""

    key: ClassVar[str] = "error.generic"

    def __init__(self, **fields: object) -> None:
        self.fields = fields
        super().__init__(f"{type(self).__name__}({', '.join(sorted(fields))})")

    def params(self) -> dict[str, object]:
        """Values the message template may use (already safe to show the user)."""
        return {}

    def message_key(self) -> str:
        """The message to show: ``key``, unless this error knows of a better one."""
        return self.key


class PointsToForm:
    """For an error whose message would tell a holder to reply by SMS: with
    ``form_url`` (SMS replies cannot reach us), its ``…_no_replies`` message, which
    points to the web form instead (README, Verify in a browser)."""

    key: ClassVar[str]
    form_url: str | None

    def message_key(self) -> str:
        return self.key if self.form_url is None else f"{self.key}_no_replies"


# --- input that does not parse ------------------------------------------------------


class InvalidInput(PortPassError):
    """Raised before any lookup: the text cannot be what we asked for."""


class InvalidPassNumber(InvalidInput):
    key = "input.pass_no"


class InvalidIdNumber(InvalidInput):
    key = "input.id_no"


class IdLooksLikePassNumber(InvalidIdNumber):
    """A pass number typed where the ID number was asked for: say which is which."""

    key = "input.id_is_pass_no"


class IdAllDigits(InvalidIdNumber):
    """Only digits where a person typed an ID number (``12345``, a phone): every ID
    and resident certificate starts with a letter, so say so instead of looking the
    digits up as a legacy code and costing the holder a failed attempt."""

    key = "input.id_all_digits"


class IdChecksumMismatch(InvalidInput):
    key = "input.id_checksum"

    def params(self) -> dict[str, object]:
        return {"value": self.fields.get("value", "")}


class InvalidPhone(InvalidInput):
    key = "input.phone"


class PhoneRegionNotAllowed(InvalidInput):
    key = "input.phone_region"


class InvalidCode(InvalidInput):
    key = "input.code"


# --- the rules --------------------------------------------------------------------------


class NoMatch(PortPassError):
    """R1: one message whichever of pass, ID or phone was wrong (no enumeration)."""

    key = "request.no_match"


class TooManyFailures(PortPassError):
    """Too many failed lookups from one sender: a cool-down, so IDs cannot be guessed."""

    key = "request.cool_down"

    def __init__(self, *, retry_at: datetime) -> None:
        super().__init__(retry_at=retry_at)
        self.retry_at = retry_at

    def params(self) -> dict[str, object]:
        return {"retry_at": self.retry_at}


class AlreadyRequested(PortPassError):
    """R2: one code per pass + ID + phone within its 24-hour validity."""

    key = "request.already"

    def __init__(self, *, retry_at: datetime, sent_at: datetime, phone: str) -> None:
        """``phone`` masked (``0912-***-678``): said only after pass, ID and phone all
        matched (R1), to the one who typed that phone, so they know where to look."""
        super().__init__(retry_at=retry_at, sent_at=sent_at, phone=phone)
        self.retry_at = retry_at
        self.sent_at = sent_at
        self.phone = phone

    def params(self) -> dict[str, object]:
        return {"retry_at": self.retry_at, "sent_at": self.sent_at, "phone": self.phone}


class AlreadyRequestedElsewhere(PointsToForm, AlreadyRequested):
    """A code typed by a participant who may not type it: someone else asked for it
    (another chat, an operator) and this participant has not joined it by passing R1
    itself (:mod:`core.verification.participants`). They are told how: the link in the
    SMS, or asking here first."""

    key = "request.already_elsewhere"

    def __init__(
        self, *, retry_at: datetime, sent_at: datetime, phone: str, form_url: str | None = None
    ) -> None:
        super().__init__(retry_at=retry_at, sent_at=sent_at, phone=phone)
        self.form_url = form_url

    def params(self) -> dict[str, object]:
        return {**super().params(), "form_url": self.form_url or ""}


class CodeCrowded(PortPassError):
    """Joining refused: as many participants as a code admits already hold a place on
    it (:mod:`core.verification.participants`), so guessing stays bounded. The link in
    the SMS and an operator's re-issue still work, and the message says so."""

    key = "request.crowded"


class TooManyCodes(PortPassError):
    """An operator's re-issue refused: the pass, ID and phone got as many codes within
    24 hours as the policy allows (so a phone cannot be flooded with SMS)."""

    key = "operator.too_many_codes"

    def __init__(self, *, retry_at: datetime) -> None:
        super().__init__(retry_at=retry_at)
        self.retry_at = retry_at

    def params(self) -> dict[str, object]:
        return {"retry_at": self.retry_at}


class PassNotValid(PortPassError):
    """The pass is outside its validity dates (told only after everything matched)."""

    key = "request.pass_not_valid"

    def __init__(self, *, valid_from: date, valid_to: date) -> None:
        super().__init__(valid_from=valid_from, valid_to=valid_to)
        self.valid_from = valid_from
        self.valid_to = valid_to

    def params(self) -> dict[str, object]:
        return {"valid_from": self.valid_from, "valid_to": self.valid_to}


class PhoneOptedOut(PointsToForm, PortPassError):
    """The phone opted out of our SMS (it texted STOP, or the provider refused a message
    as opted out): a code would never arrive. Texting START from it opts back in, where
    SMS replies reach us at all."""

    key = "request.opted_out"

    def __init__(self, *, form_url: str | None = None) -> None:
        super().__init__()
        self.form_url = form_url


class NoPhoneOnFile(PortPassError):
    """R6: the default phone is blank; the person record must be added first."""

    key = "operator.no_phone"


class NewPhoneNotOwned(PortPassError):
    """R5 limited: a new phone may be given only for a pass of the
    operator's own company (admins excepted); another company's pass gets its code at
    the phone on file, or an operator could take over that holder's notifications."""

    key = "operator.new_phone_not_owned"

    def __init__(self, *, pass_no: str) -> None:
        super().__init__(pass_no=pass_no)
        self.pass_no = pass_no

    def params(self) -> dict[str, object]:
        return {"pass_no": self.pass_no}


class PassNotFound(PortPassError):
    """An operator typed a pass number that does not exist."""

    key = "operator.pass_not_found"

    def __init__(self, *, pass_no: str) -> None:
        super().__init__(pass_no=pass_no)
        self.pass_no = pass_no

    def params(self) -> dict[str, object]:
        return {"pass_no": self.pass_no}


# --- operator accounts ------------------------------------------------------------------


class InvalidLinkCode(PortPassError):
    """``/link CODE`` with a code that is unknown, expired, already used or revoked: one
    error for all four, so a guesser learns nothing about which codes exist."""

    key = "operator.link_invalid"


class NotAnOperator(PortPassError):
    """The Telegram user is not linked to an active operator account (never linked,
    unlinked, or revoked since). Channels answer without any operator data."""

    key = "operator.not_linked"


class OperatorNotFound(PortPassError):
    """The admin CLI named an operator id that does not exist."""

    key = "operator.not_found"

    def __init__(self, *, operator_id: str) -> None:
        super().__init__(operator_id=operator_id)
        self.operator_id = operator_id

    def params(self) -> dict[str, object]:
        return {"operator_id": self.operator_id}


class OperatorRevoked(PortPassError):
    """The operator account was revoked: it gets no new link code."""

    key = "operator.revoked"

    def __init__(self, *, operator_id: str) -> None:
        super().__init__(operator_id=operator_id)
        self.operator_id = operator_id

    def params(self) -> dict[str, object]:
        return {"operator_id": self.operator_id}


class InvalidOperatorDetails(InvalidInput):
    """An operator needs a non-blank name and company."""

    key = "operator.invalid_details"


# --- code and link checks ---------------------------------------------------------------


class NoOpenRequest(PortPassError):
    """A code arrived but nothing is waiting for one from this phone."""

    key = "check.no_request"


class WrongCode(PortPassError):
    key = "check.wrong_code"

    def __init__(self, *, remaining: int) -> None:
        super().__init__(remaining=remaining)
        self.remaining = remaining

    def params(self) -> dict[str, object]:
        return {"remaining": self.remaining}


class CodeLockedHere(PortPassError):
    """This participant typed too many wrong codes for the code: they may not type it
    any more. Only they are locked out; the code, its link and an operator's re-issue
    still work, and the message says so."""

    key = "check.locked_here"


class RequestSpent(PortPassError):
    """A request spent by wrong codes before they locked participants instead (migration
    0012 revived those); R2 says when a new one can be had."""

    key = "check.spent"

    def __init__(self, *, retry_at: datetime) -> None:
        super().__init__(retry_at=retry_at)
        self.retry_at = retry_at

    def params(self) -> dict[str, object]:
        return {"retry_at": self.retry_at}


class CodeExpired(PortPassError):
    key = "check.expired"


class AlreadyVerified(PortPassError):
    """The code or link was used already; the verification it made still stands."""

    key = "check.already_verified"


class RequestStale(PortPassError):
    """R1 again at the check: since the code was sent, the registry
    gave the pass another holder (ID number) or the person another phone on file. The
    request is closed; a new one checks the new data."""

    key = "check.stale"


class CodeSuperseded(PortPassError):
    """An operator re-issued the code (R5 within R2's 24 hours): this one no longer
    works; the latest SMS's code and link do."""

    key = "check.superseded"


class UnknownLink(PortPassError):
    key = "link.unknown"
