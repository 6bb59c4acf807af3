"""The domain's records: what a pass, a person and a verification request are.

Plain frozen dataclasses, so storage can build them and tests can compare them. The
verification status of a pass is *derived* (R7) in :mod:`core.status`; no record here
carries it as a flag that could drift from the phones it summarises.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from core.values import IdNumber, PassNumber, Phone


class Status(enum.StrEnum):
    """是否驗證 — the three states the guide's operator table shows (R7)."""

    VERIFIED = "verified"  # 已驗證
    UNVERIFIED = "unverified"  # 未驗證
    PENDING = "pending"  # 待驗證


class Channel(enum.StrEnum):
    """Where an action came from; recorded in the audit log and in requests."""

    TELEGRAM = "telegram"
    SMS = "sms"
    WEB = "web"
    CLI = "cli"


class Origin(enum.StrEnum):
    """Who asked for a code: the holder themselves (R1), an operator (R5), or a campaign."""

    HOLDER = "holder"
    OPERATOR = "operator"
    CAMPAIGN = "campaign"  # an admin's campaign to every holder not yet verified


class RequestState(enum.StrEnum):
    LIVE = "live"  # code sent (or queued), waiting for the code or the link
    VERIFIED = "verified"  # the code or link was accepted
    # No longer written: wrong codes lock the participant who typed them, not the request
    # (core.verification.participants). Migration 0012 made earlier spent requests live.
    SPENT = "spent"
    RELEASED = "released"  # the SMS never reached the provider: frees the R2 lock
    # The registry changed after the code was sent (another holder or phone on file for
    # the pass): closed at the next check, and frees the R2 lock.
    STALE = "stale"
    # An operator re-issued a code for the same pass, ID and phone on file within the 24
    # hours of R2: this code and its link no longer work, and it holds no R2 lock.
    SUPERSEDED = "superseded"


@dataclass(frozen=True, slots=True)
class PassRecord:
    """One row of the guide's table: a pass joined with its holder's person record.

    ``name`` and ``phone`` are ``None`` when the person record is missing (deleted or
    never added); that is what makes R6 and the pending state of R7 possible.
    """

    pass_no: PassNumber
    id_no: IdNumber
    company: str
    valid_from: date
    valid_to: date
    name: str | None
    phone: Phone | None
    verified_phone: Phone | None
    verified_at: datetime | None = None

    def is_valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """A code (and link token) sent to one phone for one pass.

    Only keyed hashes of the code and token are held
    (docs/design.md#secrets-are-hashed-or-sealed). ``update_person_phone`` is set when an
    operator typed a new number (R5): a successful check then writes that number into the
    person record.

    ``requester_key`` is the participant who asked (:attr:`Requester.key`: ``telegram:
    <chat>``, ``sms:+886…``, ``operator:<id>``): only they, or whoever texts from ``phone``,
    may type the code. ``phone_on_file`` is the person's phone when the code was sent: the
    check compares it with the registry's phone then, since an operator's new number (R5)
    differs from the phone on file by design. Both are ``None`` only for requests stored
    before they existed.

    ``participants``: the wrong codes each participant (:attr:`Requester.key`) typed for
    this request; a key with 0 has *joined* it (passed R1 in its own chat while the code
    was live, so it may type the code too). ``failed_attempts`` is their sum. Wrong codes
    lock the participant that typed them, never the request
    (:mod:`core.verification.participants`).
    """

    id: str
    pass_no: PassNumber
    id_no: IdNumber
    phone: Phone
    code_hash: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    origin: Origin
    channel: Channel
    language: str
    state: RequestState = RequestState.LIVE
    failed_attempts: int = 0
    update_person_phone: bool = False
    operator_id: str | None = None
    finished_at: datetime | None = None
    requester_key: str | None = None
    phone_on_file: Phone | None = None
    participants: Mapping[str, int] = field(default_factory=dict)

    def is_open(self, now: datetime) -> bool:
        return self.state is RequestState.LIVE and now < self.expires_at


class Priority(enum.IntEnum):
    """Which queued SMS leave first when the outbox is busy (lowest first)."""

    OWN = 0  # a holder's own request or a reply to them: someone is waiting for it
    NOTICE = 1  # a notice about one pass (suspension, expiry)
    CAMPAIGN = 2  # bulk traffic: a verification campaign to every holder


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """An SMS that core wants sent; storage writes it to the outbox in the same
    transaction as the change that caused it, and a worker delivers it.

    ``secrets`` are the parts of ``body`` that prove something (the code, the link
    token): storage keeps them only encrypted, and shows them as ``●●●●●●``.
    ``expires_at``: after it the SMS is of no use (its code has expired); a provider
    outage is waited out until then, and only then is the SMS given up. ``None``: the
    outbox's default lifetime. ``notify_to``: the Telegram participant who asked
    (``telegram:<chat>``, ``operator:<id>``), told if the SMS finally fails.
    """

    to: Phone
    body: str
    request_id: str | None = None
    kind: str = "verification"
    secrets: tuple[str, ...] = field(default=(), repr=False)
    expires_at: datetime | None = None
    notify_to: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, through which channel, and when. ``subject`` and ``detail`` hold
    masked values only: the audit log must be safe to show to a support engineer."""

    at: datetime
    actor: str
    channel: Channel
    action: str
    subject: str
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Requester:
    """Who is asking, as the channel knows them: one *participant*.

    ``key`` names the participant: the one place codes are typed from, as far as the
    channel can tell one from another (``telegram:<chat>``, ``sms:+886912345678``, a web
    session ``web:<session>``, ``operator:<id>``). Failed lookups (the cool-down) and wrong
    codes (:mod:`core.verification.participants`) count against it, so one participant's
    mistakes, or a stranger's guesses, never lock out another. A channel must give each
    participant a key no one else can take: a web form keys by its own session, never by
    a value the client picks. ``actor`` is what the audit log records, already masked.
    ``phone`` is the number the channel vouches the requester is texting from (an SMS
    sender, whose number Twilio's signed webhook gives): codes sent to that number may
    be entered from it whoever asked for them, which is how an SMS reply works.

    ``limit_key``, when given, is what the failed-lookup cool-down counts instead of
    ``key``: the web form's participant is a browser session, which anyone can throw
    away, so its failures count against the client address (docs/security.md, The
    web form).
    """

    key: str
    channel: Channel
    actor: str
    language: str = "zh-TW"
    phone: Phone | None = None
    limit_key: str | None = None

    @property
    def failure_key(self) -> str:
        """Whom the failed-lookup cool-down counts (``limit_key``, else ``key``)."""
        return self.limit_key or self.key


@dataclass(frozen=True, slots=True)
class Operator:
    """業者申請人: reads the passes of ``company`` (all companies when ``is_admin``)."""

    id: str
    name: str
    company: str
    is_admin: bool = False

    def owns(self, record: PassRecord) -> bool:
        return self.is_admin or record.company == self.company
