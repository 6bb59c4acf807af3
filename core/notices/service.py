"""Notices: a gate event told to the holder's verified phone, and listed to operators.

This is what the verified phone is for (the guide's announcement): when a pass is
suspended, gets an abnormal record, or is reinstated, the holder is texted, but only at
a phone proven to be theirs (status *verified*, R7). A pass that is unverified or
pending, or whose verified phone opted out of SMS, is not texted: its notice is stored
as *unreachable* with the reason, so operators can see whom nobody could tell. The
chats that verified the pass on Telegram are told there as well.

One batch (an API request, a CSV file) is one unit of work: every notice, its SMS in
the outbox, its Telegram messages and its audit entry are committed together, and a
batch with any invalid item stores nothing. ``event_id`` makes a batch safe to send
again: an event already stored is answered with its first result.

Why one module: storing a batch decides, per notice, whom it reaches and in which
language (the phone's last one, a verifying chat's, the default); reading notices back
for operators uses the same records and policy. The words are in :mod:`core.notices.texts`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import messages
from core.errors import NotAnOperator
from core.model import AuditEntry, Channel, Operator, OutgoingSms, PassRecord, Priority, Status
from core.notices.events import (
    MAX_EVENTS,
    EventProblem,
    InvalidEvents,
    NoticeEvent,
    RejectedEvent,
    TooManyEvents,
    event_id_of,
    parse_event,
)
from core.notices.records import (
    Notice,
    NoticeDraft,
    NoticeResult,
    NoticeUnitOfWork,
    NoticeUnitOfWorkFactory,
    Reach,
    Source,
    VerifyingChat,
    audit_entry,
    chats_by_pass,
    notice_from,
    reach_of,
    records_by_pass,
    stored_by_event_id,
    verified_phone,
)
from core.notices.texts import NoticeWording, notice_sms, telegram_notice
from core.ports import Clock
from core.status import status_of
from core.values import PassNumber

#: Outbox kind of a notice SMS (the outbox worker sends it like any other).
SMS_KIND = "notice"
_YIELD_EVERY = 250  # items parsed between two turns of the event loop


@dataclass(frozen=True, slots=True)
class NoticePolicy:
    wording: NoticeWording
    max_events: int = MAX_EVENTS
    #: How far back ``/notices`` looks, and how many lines it shows.
    recent_days: int = 30
    recent_limit: int = 20
    default_language: str = messages.ZH


@dataclass(frozen=True, slots=True)
class _Item:
    """A parsed event and where it was in the batch."""

    position: int
    event: NoticeEvent


class NoticeService:
    def __init__(self, uow: NoticeUnitOfWorkFactory, clock: Clock, policy: NoticePolicy) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy

    # --- receiving events ----------------------------------------------------------------

    async def receive(
        self,
        items: Sequence[object],
        *,
        source: Source,
        actor: str,
        channel: Channel,
        positions: Sequence[int] | None = None,
        rejected_already: Sequence[RejectedEvent] = (),
        dry_run: bool = False,
    ) -> list[NoticeResult]:
        """Store the batch's notices and queue their messages, all or nothing.

        ``items`` are raw JSON objects or CSV rows; ``positions`` name them in errors
        (CSV line numbers; default: their index); ``rejected_already`` are items the
        channel could not even read (a CSV row with too many cells), reported with the
        rest. Raises :class:`TooManyEvents`, or :class:`InvalidEvents` listing every
        problem when any item is invalid. ``dry_run``: check and report, store nothing.
        """
        if len(items) > self._policy.max_events:
            raise TooManyEvents(count=len(items), limit=self._policy.max_events)
        now = self._clock.now()
        where = list(positions) if positions is not None else list(range(len(items)))
        parsed: list[_Item] = []
        rejected: list[RejectedEvent] = list(rejected_already)
        for count, (position, raw) in enumerate(zip(where, items, strict=True), 1):
            if count % _YIELD_EVERY == 0:
                # Checking 10,000 items takes a while: let the server answer others between
                # chunks (nothing is held yet; the transaction starts after the checks).
                await asyncio.sleep(0)
            outcome = parse_event(raw, now)
            if isinstance(outcome, NoticeEvent):
                parsed.append(_Item(position, outcome))
            else:
                rejected.append(RejectedEvent(position, event_id_of(raw), tuple(outcome)))
        async with self._uow() as uow:
            stored = await stored_by_event_id(uow, [item.event.event_id for item in parsed])
            first: dict[str, _Item] = {}
            for item in parsed:
                if item.event.event_id not in stored:
                    first.setdefault(item.event.event_id, item)
            records = await records_by_pass(uow, [item.event.pass_no for item in first.values()])
            for item in first.values():
                if item.event.pass_no not in records:
                    problem = EventProblem(
                        "pass_no", "notice.error.unknown_pass", {"value": item.event.pass_no.value}
                    )
                    rejected.append(RejectedEvent(item.position, item.event.event_id, (problem,)))
            if rejected:
                raise InvalidEvents(rejected)
            made = await self._store(uow, list(first.values()), records, source, actor, channel)
            if dry_run:  # leaving the block rolls everything back
                return self._results(parsed, stored, first, made, [])
            await uow.commit()
            late = [i.event.event_id for i in first.values() if i.event.event_id not in made]
            if late:  # stored by a concurrent request between our read and our write
                made.update(await stored_by_event_id(uow, late))
        return self._results(parsed, stored, first, made, late)

    @staticmethod
    def _results(
        parsed: list[_Item],
        stored: dict[str, Notice],
        first: dict[str, _Item],
        made: dict[str, Notice],
        late: list[str],
    ) -> list[NoticeResult]:
        """One result per event, in the batch's order."""
        results: list[NoticeResult] = []
        for item in parsed:
            event_id = item.event.event_id
            if event_id in stored:
                results.append(NoticeResult.of(stored[event_id], duplicate=True))
            else:
                ours = first[event_id] is item and event_id not in late
                results.append(NoticeResult.of(made[event_id], duplicate=not ours))
        return results

    async def _store(
        self,
        uow: NoticeUnitOfWork,
        items: list[_Item],
        records: dict[PassNumber, PassRecord],
        source: Source,
        actor: str,
        channel: Channel,
    ) -> dict[str, Notice]:
        """Store the new notices with their SMS, Telegram messages and audit entries, a
        few statements per batch rather than per event (a batch may hold 10,000)."""
        now = self._clock.now()
        verified = {r.pass_no: r for r in records.values() if status_of(r) is Status.VERIFIED}
        phones = sorted({r.verified_phone for r in verified.values() if r.verified_phone})
        opted_out = await uow.opt_outs.among(phones) if phones else set()
        languages = await uow.phone_languages.among(phones) if phones else {}
        chats = await chats_by_pass(uow, list(verified))
        drafts: list[NoticeDraft] = []
        told: dict[str, list[VerifyingChat]] = {}
        for item in items:
            event, record = item.event, records[item.event.pass_no]
            reach, reason = reach_of(record, record.verified_phone in opted_out)
            # Told on Telegram only where the verification stands: the chat proved the
            # phone that is verified now.
            told[event.event_id] = [
                chat
                for chat in chats.get(event.pass_no, [])
                if event.pass_no in verified and chat.phone == record.verified_phone
            ]
            drafts.append(
                NoticeDraft(
                    event, record.company, now, source, reach, reason, len(told[event.event_id])
                )
            )
        ids = await uow.notices.add_many(drafts)
        stored = [draft for draft in drafts if draft.event.event_id in ids]
        texted = [d for d in stored if d.reach is Reach.SMS]
        messages_ = []
        for d in texted:
            phone = verified_phone(records[d.event.pass_no])
            # The phone's last language, else a verifying chat's, else the default.
            chat_id = next((c.chat_id for c in told[d.event.event_id]), None)
            language = languages.get(phone) or await self._chat_language(uow, chat_id)
            body = notice_sms(d.event, self._policy.wording, language)
            messages_.append(OutgoingSms(to=phone, body=body, kind=SMS_KIND))
        outbox_ids = await uow.outbox.add_many(messages_, now, priority=Priority.NOTICE)
        await uow.notices.attach_sms(
            [
                (ids[d.event.event_id], outbox_id)
                for d, outbox_id in zip(texted, outbox_ids, strict=True)
            ]
        )
        for draft in stored:
            for chat in told[draft.event.event_id]:
                language = await self._chat_language(uow, chat.chat_id)
                text = telegram_notice(draft.event, self._policy.wording, language)
                await uow.notices.queue_telegram(ids[draft.event.event_id], chat.chat_id, text, now)
        await uow.audit.add_many([audit_entry(draft, actor, channel) for draft in stored])
        return {d.event.event_id: notice_from(ids[d.event.event_id], d) for d in stored}

    async def _chat_language(self, uow: NoticeUnitOfWork, chat_id: str | None) -> str:
        """The language the chat's holder chose (``/lang``), else the default."""
        if chat_id is None:
            return self._policy.default_language
        conversation = await uow.conversations.get(f"telegram:{chat_id}")
        if conversation is not None and conversation.language:
            return conversation.language
        return self._policy.default_language

    # --- reading -------------------------------------------------------------------------

    @property
    def recent_days(self) -> int:
        return self._policy.recent_days

    async def recent_for(
        self, operator: Operator, *, unreachable_only: bool = False
    ) -> tuple[list[Notice], int]:
        """``/notices``: the company's notices of the last days (an admin's: all),
        newest first, at most ``recent_limit``; and how many there were in all."""
        now = self._clock.now()
        since = now - timedelta(days=self._policy.recent_days)
        company = None if operator.is_admin else operator.company
        async with self._uow() as uow:
            account = await uow.operators.get(operator.id)
            if account is None or account.is_revoked:
                raise NotAnOperator()
            found = await uow.notices.recent(
                company=company, since=since, unreachable_only=unreachable_only
            )
            await uow.audit.add(
                AuditEntry(
                    now,
                    f"operator:{operator.id}",
                    Channel.TELEGRAM,
                    "notice.list",
                    f"company:{company or '*'}",
                    {"unreachable_only": "yes" if unreachable_only else "no"},
                )
            )
            await uow.commit()
        return found[: self._policy.recent_limit], len(found)

    async def list_all(
        self,
        *,
        company: str | None = None,
        unreachable_only: bool = False,
        since: datetime | None = None,
        actor: str = "cli",
    ) -> list[Notice]:
        """``portpass notices list``: an administrator's view, every company."""
        now = self._clock.now()
        async with self._uow() as uow:
            found = await uow.notices.recent(
                company=company, since=since, unreachable_only=unreachable_only
            )
            await uow.audit.add(
                AuditEntry(
                    now,
                    actor,
                    Channel.CLI,
                    "notice.list",
                    f"company:{company or '*'}",
                    {"unreachable_only": "yes" if unreachable_only else "no"},
                )
            )
            await uow.commit()
        return found

    async def for_digest(
        self, company: str | None, since: datetime, until: datetime
    ) -> list[Notice]:
        """The notices one daily digest covers: received in ``[since, until)``."""
        async with self._uow() as uow:
            return await uow.notices.recent(company=company, since=since, until=until)
