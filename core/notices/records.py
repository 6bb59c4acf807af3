"""The records and ports of notices (:mod:`core.notices.service` is the use cases): what a
stored notice is, why one reached nobody, what the sender is answered, and what storage
must offer. Kept apart so storage and channels can name them without the service.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from core.masking import mask_pass
from core.model import AuditEntry, Channel, PassRecord, Status
from core.notices.events import NoticeEvent, NoticeKind
from core.ports import UnitOfWork
from core.status import status_of
from core.values import PassNumber, Phone

CHUNK = 500  # pass numbers and event ids looked up per statement


class Reach(enum.StrEnum):
    SMS = "sms"  # texted to the verified phone
    UNREACHABLE = "unreachable"  # not texted; ``reason`` says why


class Unreachable(enum.StrEnum):
    """Why a notice was not texted."""

    UNVERIFIED = "unverified"  # 未驗證: no phone was ever proven
    PENDING = "pending"  # 待驗證: the phone on file changed since it was proven
    OPTED_OUT = "opted_out"  # the verified phone opted out of SMS


class Source(enum.StrEnum):
    API = "api"
    CSV = "csv"


@dataclass(frozen=True, slots=True)
class Notice:
    """A stored notice. ``sms_state`` is the outbox row's state when read (``None`` when
    not texted): what operators see as queued, sent, delivered or failed."""

    id: int
    event_id: str
    pass_no: PassNumber
    company: str
    kind: NoticeKind
    occurred_at: datetime
    detail: str | None
    received_at: datetime
    source: Source
    reach: Reach
    reason: Unreachable | None
    telegram_chats: int
    sms_state: str | None = None

    @property
    def reached(self) -> bool:
        return self.reach is Reach.SMS


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice about to be stored (no id yet)."""

    event: NoticeEvent
    company: str
    received_at: datetime
    source: Source
    reach: Reach
    reason: Unreachable | None
    telegram_chats: int


@dataclass(frozen=True, slots=True)
class VerifyingChat:
    """A Telegram chat whose code or link verified the pass, at ``phone``."""

    chat_id: str
    phone: Phone


@dataclass(frozen=True, slots=True)
class NoticeResult:
    """What the sender is told about one event; a repeated ``event_id`` gets the first
    result again, with ``duplicate`` set."""

    event_id: str
    notice_id: int
    pass_no: PassNumber
    kind: NoticeKind
    reach: Reach
    reason: Unreachable | None
    telegram_chats: int
    duplicate: bool = False

    @classmethod
    def of(cls, notice: Notice, *, duplicate: bool) -> NoticeResult:
        return cls(
            event_id=notice.event_id,
            notice_id=notice.id,
            pass_no=notice.pass_no,
            kind=notice.kind,
            reach=notice.reach,
            reason=notice.reason,
            telegram_chats=notice.telegram_chats,
            duplicate=duplicate,
        )


class NoticeRepository(Protocol):
    async def stored(self, event_ids: Sequence[str]) -> dict[str, Notice]:
        """The notices already stored under these event ids."""
        ...

    async def add_many(self, drafts: Sequence[NoticeDraft]) -> dict[str, int]:
        """Store the notices; the new ids by event id. An event id stored meanwhile
        (another request with the same event, committed first) is skipped: absent."""
        ...

    async def attach_sms(self, pairs: Sequence[tuple[int, int]]) -> None:
        """``(notice_id, outbox_id)``: the SMS each texted notice went out as."""
        ...

    async def verifying_chats(
        self, pass_nos: Sequence[PassNumber]
    ) -> dict[PassNumber, list[VerifyingChat]]:
        """Telegram chats whose request verified each pass, with the phone it verified."""
        ...

    async def queue_telegram(
        self, notice_id: int | None, chat_id: str, text: str, at: datetime
    ) -> None:
        """A Telegram message for ``portpass serve`` to send (it may run elsewhere);
        ``notice_id`` is ``None`` for a digest."""
        ...

    async def last_digest(self, operator_id: str) -> datetime | None:
        """Where the operator's latest digest ended (``until``), if one was made."""
        ...

    async def claim_digest(
        self,
        day: date,
        operator_id: str,
        since: datetime,
        until: datetime,
        count: int,
        at: datetime,
    ) -> bool:
        """Record the operator's digest of ``day``; ``False`` when it was already made
        (another instance, or before a restart): then nothing must be sent."""
        ...

    async def recent(
        self,
        *,
        company: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
        unreachable_only: bool = False,
        limit: int | None = None,
    ) -> list[Notice]:
        """Notices received in ``[since, until)``, newest first; ``company=None``: all."""
        ...


class NoticeUnitOfWork(UnitOfWork, Protocol):
    @property
    def notices(self) -> NoticeRepository: ...


class NoticeUnitOfWorkFactory(Protocol):
    def __call__(self) -> NoticeUnitOfWork: ...


def reach_of(record: PassRecord, opted_out: bool) -> tuple[Reach, Unreachable | None]:
    """The verified phone only (R7): a phone nobody proved, or one that changed since,
    might reach someone else; an opted-out phone has asked us to stop."""
    status = status_of(record)
    if status is Status.UNVERIFIED:
        return Reach.UNREACHABLE, Unreachable.UNVERIFIED
    if status is Status.PENDING:
        return Reach.UNREACHABLE, Unreachable.PENDING
    if opted_out:
        return Reach.UNREACHABLE, Unreachable.OPTED_OUT
    return Reach.SMS, None


def audit_entry(draft: NoticeDraft, actor: str, channel: Channel) -> AuditEntry:
    """Masked: the pass as ``KHPS113-**0043``, no phone, no detail (free text)."""
    event = draft.event
    detail = {"kind": event.kind.value, "event_id": event.event_id, "reach": draft.reach.value}
    if draft.reason is not None:
        detail["reason"] = draft.reason.value
    if draft.telegram_chats:
        detail["telegram_chats"] = str(draft.telegram_chats)
    return AuditEntry(draft.received_at, actor, channel, "notice", mask_pass(event.pass_no), detail)


def notice_from(notice_id: int, draft: NoticeDraft) -> Notice:
    event = draft.event
    return Notice(
        id=notice_id,
        event_id=event.event_id,
        pass_no=event.pass_no,
        company=draft.company,
        kind=event.kind,
        occurred_at=event.occurred_at,
        detail=event.detail,
        received_at=draft.received_at,
        source=draft.source,
        reach=draft.reach,
        reason=draft.reason,
        telegram_chats=draft.telegram_chats,
        sms_state="pending" if draft.reach is Reach.SMS else None,
    )


def verified_phone(record: PassRecord) -> Phone:
    if record.verified_phone is None:  # reach_of texts verified passes only
        raise ValueError(f"{mask_pass(record.pass_no)} has no verified phone")
    return record.verified_phone


async def stored_by_event_id(uow: NoticeUnitOfWork, event_ids: list[str]) -> dict[str, Notice]:
    unique = list(dict.fromkeys(event_ids))
    found: dict[str, Notice] = {}
    for start in range(0, len(unique), CHUNK):
        found.update(await uow.notices.stored(unique[start : start + CHUNK]))
    return found


async def records_by_pass(
    uow: NoticeUnitOfWork, pass_nos: list[PassNumber]
) -> dict[PassNumber, PassRecord]:
    unique = list(dict.fromkeys(pass_nos))
    found: dict[PassNumber, PassRecord] = {}
    for start in range(0, len(unique), CHUNK):
        for record in await uow.passes.list(pass_nos=unique[start : start + CHUNK]):
            found[record.pass_no] = record
    return found


async def chats_by_pass(
    uow: NoticeUnitOfWork, pass_nos: list[PassNumber]
) -> dict[PassNumber, list[VerifyingChat]]:
    found: dict[PassNumber, list[VerifyingChat]] = {}
    for start in range(0, len(pass_nos), CHUNK):
        found.update(await uow.notices.verifying_chats(pass_nos[start : start + CHUNK]))
    return found
