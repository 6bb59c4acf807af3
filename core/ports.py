"""The ports core needs from the outside world, as Protocols.

``storage/`` implements the unit of work on SQLite and PostgreSQL; ``tests/unit`` has
an in-memory fake of the same protocol. Everything one use case changes (pass, request,
outbox row, audit entry) goes through one unit of work and is committed together, so a
crash never leaves an SMS queued for a request that does not exist, or the reverse.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from core.conversation.state import Conversation
from core.model import (
    AuditEntry,
    OutgoingSms,
    PassRecord,
    Priority,
    RequestState,
    Status,
    VerificationRequest,
)
from core.operators.accounts import OperatorAccount
from core.opt_outs.model import OptOut
from core.values import IdNumber, PassNumber, Phone
from core.verification.delivery import DeliveryProblem


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class PassRepository(Protocol):
    async def get(self, pass_no: PassNumber, *, lock: bool = False) -> PassRecord | None:
        """``lock``: hold the pass row until the unit of work ends, so two requests for
        the same pass cannot both pass the R2 check and both send a code."""
        ...

    async def list(
        self,
        *,
        company: str | None = None,
        status: Status | None = None,
        pass_nos: Sequence[PassNumber] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> builtins.list[PassRecord]:
        """Passes ordered by pass number; ``status`` filters on the derived status."""
        ...

    async def count_by_status(self, *, company: str | None = None) -> dict[Status, int]: ...

    async def count_opted_out(self, *, company: str | None = None) -> int:
        """Passes whose holder's phone on file opted out of SMS (no code or notice reaches
        it until the holder opts back in)."""
        ...

    async def with_phone(self, phone: Phone) -> builtins.list[PassRecord]:
        """Passes whose holder's phone on file is ``phone``."""
        ...

    async def set_verified_phone(self, pass_no: PassNumber, phone: Phone, at: datetime) -> None: ...

    async def set_person_phone(self, id_no: IdNumber, phone: Phone, at: datetime) -> None: ...


class RequestRepository(Protocol):
    async def add(self, request: VerificationRequest) -> None: ...

    async def get(self, request_id: str) -> VerificationRequest | None: ...

    async def by_token_hash(self, token_hash: str) -> VerificationRequest | None: ...

    async def latest_for(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> VerificationRequest | None:
        """The newest request for this combination created strictly after ``since`` that
        still holds the R2 lock (any state but RELEASED, STALE and SUPERSEDED). Strictly:
        a code sent at 10:00 expires at 10:00 the next day, and the next one may be asked
        for then."""
        ...

    async def sent_since(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> list[datetime]:
        """When each request for this combination created strictly after ``since`` was
        made, oldest first; released ones (their SMS never left) left out. What bounds an
        operator's re-issues of a code."""
        ...

    async def for_phone(self, phone: Phone, since: datetime) -> list[VerificationRequest]:
        """Requests sent to ``phone`` created at or after ``since``, newest first."""
        ...

    async def update(
        self,
        request_id: str,
        *,
        state: RequestState | None = None,
        failed_attempts: int | None = None,
        finished_at: datetime | None = None,
        participants: Mapping[str, int] | None = None,
    ) -> None: ...

    async def count_open(self, now: datetime, *, company: str | None = None) -> int:
        """Live, unexpired requests (``/stats``: codes waiting)."""
        ...


class OutboxRepository(Protocol):
    async def add(self, sms: OutgoingSms, at: datetime, *, priority: int = Priority.OWN) -> int:
        """Queue ``sms``; the worker sends lower ``priority`` values first
        (:class:`core.model.Priority`), and oldest first within one priority. Returns
        the new row's id (a notice keeps it to show what became of its SMS)."""
        ...

    async def add_many(
        self, messages: Sequence[OutgoingSms], at: datetime, *, priority: int = Priority.OWN
    ) -> list[int]:
        """Queue several in one statement (a batch of notices); their ids, in order."""
        ...

    async def delivery_problems(
        self, pass_nos: Sequence[PassNumber] | None = None
    ) -> dict[PassNumber, DeliveryProblem]:
        """The passes (of ``pass_nos``, or all) whose latest verification SMS failed or
        was reported undelivered: what operators see next to the status (item 9)."""
        ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def add_many(self, entries: Sequence[AuditEntry]) -> None: ...


class FailureRepository(Protocol):
    """Failed lookups per requester (``sms:+886…``, ``telegram:12345``), for the cool-down."""

    async def record(self, key: str, at: datetime) -> None: ...

    async def since(self, key: str, since: datetime) -> list[datetime]:
        """Times of failures recorded for ``key`` at or after ``since``, oldest first."""
        ...


class ConversationRepository(Protocol):
    """Conversation state by participant key; stored so a restart or a second
    instance continues the same conversation."""

    async def get(self, key: str) -> Conversation | None: ...

    async def save(self, key: str, conversation: Conversation) -> None: ...


class OperatorRepository(Protocol):
    """Operator accounts. Link codes are found by their keyed hash only; a Telegram user
    is bound to at most one account (unbind the old one before binding another)."""

    async def add(self, account: OperatorAccount) -> None: ...

    async def get(self, operator_id: str) -> OperatorAccount | None: ...

    async def list(self) -> builtins.list[OperatorAccount]:
        """Every account, revoked ones too, oldest first."""
        ...

    async def by_telegram_user(self, telegram_user_id: str) -> OperatorAccount | None: ...

    async def by_link_code_hash(self, code_hash: str) -> OperatorAccount | None: ...

    async def set_link_code(
        self, operator_id: str, code_hash: str | None, expires_at: datetime | None
    ) -> None:
        """Replace the account's link code (``None``: no code)."""
        ...

    async def spend_link_code(self, operator_id: str, code_hash: str) -> bool:
        """Clear the link code if it is still ``code_hash``; ``False`` if another use got
        there first, so one code links one chat even when two arrive at once."""
        ...

    async def bind_telegram(self, operator_id: str, telegram_user_id: str | None) -> None:
        """Bind the account to a Telegram user (``None``: unbind)."""
        ...

    async def revoke(self, operator_id: str, at: datetime) -> None:
        """Mark revoked, unbind Telegram, drop any link code."""
        ...


class InboundRepository(Protocol):
    """Messages already handled, by channel and the transport's id (Twilio's
    MessageSid): a retried webhook is answered again, not acted on twice."""

    async def claim(self, channel: str, message_id: str, at: datetime) -> bool:
        """True the first time: the caller acts on the message in this transaction."""
        ...

    async def reply_for(self, channel: str, message_id: str) -> str | None: ...

    async def remember(self, channel: str, message_id: str, reply: str) -> None: ...

    async def claim_turn(
        self, channel: str, message_id: str, at: datetime, key: str, phone: Phone | None = None
    ) -> tuple[bool, Conversation | None]:
        """:meth:`claim`, and when it succeeds the conversation state of ``key`` as
        ``ConversationRepository.get`` reads it: a conversation turn's first two
        reads, in one statement where the database allows it (SQLite), since each
        statement costs a turn more than SQLite's work for it. With ``phone`` (an SMS
        sender's), the same statement may read whether it opted out, which the turn
        asks later (``OptOutRepository.is_opted_out`` then answers without a statement
        of its own). ``(False, None)``: the message was claimed before, and nothing was
        read."""
        ...


class OptOutRepository(Protocol):
    """Phones that asked for no SMS (:mod:`core.opt_outs.model`), by E.164 number. Storage
    also offers the table to SQL that selects many phones at once (campaigns)."""

    async def get(self, phone: Phone) -> OptOut | None: ...

    async def is_opted_out(self, phone: Phone) -> bool: ...

    async def among(self, phones: Iterable[Phone]) -> set[Phone]:
        """The opted-out ones of ``phones``."""
        ...

    async def add(self, opt_out: OptOut) -> bool:
        """Record an opt-out; ``False`` (and the earlier record kept) if there was one."""
        ...

    async def remove(self, phone: Phone) -> bool:
        """Opt back in; ``False`` if the phone had not opted out."""
        ...


class PhoneLanguageRepository(Protocol):
    """The language each phone last used with the bot (E.164), so the SMS it gets unasked
    (campaigns, reminders, notices, codes an operator sends) are in that language."""

    async def get(self, phone: Phone) -> str | None: ...

    async def among(self, phones: Iterable[Phone]) -> dict[Phone, str]:
        """The remembered languages of ``phones`` (those never seen left out)."""
        ...

    async def remember(self, phone: Phone, language: str, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    # Read-only members, so an implementation may hold more specific repositories.
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def inbound(self) -> InboundRepository: ...
    @property
    def operators(self) -> OperatorRepository: ...
    @property
    def passes(self) -> PassRepository: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def failures(self) -> FailureRepository: ...
    @property
    def opt_outs(self) -> OptOutRepository: ...
    @property
    def phone_languages(self) -> PhoneLanguageRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
