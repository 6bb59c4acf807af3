"""The operators' daily digest: each linked operator gets, once a day at a set Taipei
time, the notices of their company (an admin: of every company) since their last one.

Once a day means once, even with two ``serve`` instances or a restart at the wrong
moment: the digest of a day is recorded (per operator) in the same transaction that
queues its Telegram message, and recording it a second time does nothing. A digest
covers ``[since, until)`` where ``until`` is that day's digest time and ``since`` is
where the operator's previous digest ended, so a day the server was down is not lost
(at most a week is looked back). A day without notices sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core import messages
from core.clock import TAIPEI
from core.model import AuditEntry, Channel
from core.notices.records import NoticeUnitOfWorkFactory
from core.notices.texts import digest_text
from core.operators.accounts import OperatorAccount
from core.ports import Clock

LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    at: time  # Taipei wall-clock time
    default_language: str = messages.ZH


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    day: date
    queued: int  # digests queued for Telegram
    empty: int  # operators with nothing to report (recorded, not sent)
    already: int  # made before (another instance, or before a restart)


def due_day(now: datetime, at: time) -> tuple[date, datetime]:
    """The latest day whose digest time has passed, and that moment (aware)."""
    local = now.astimezone(TAIPEI)
    day = local.date()
    moment = datetime.combine(day, at, TAIPEI)
    if local < moment:
        day -= timedelta(days=1)
        moment -= timedelta(days=1)
    return day, moment


class DigestService:
    def __init__(self, uow: NoticeUnitOfWorkFactory, clock: Clock, policy: DigestPolicy) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy

    async def run(self) -> DigestOutcome:
        """Queue the due day's digest for every operator who has none yet."""
        now = self._clock.now()
        day, until = due_day(now, self._policy.at)
        async with self._uow() as uow:
            accounts = [a for a in await uow.operators.list() if a.is_linked and not a.is_revoked]
        queued = empty = already = 0
        for account in accounts:
            outcome = await self._one(account, day, until, now)
            queued += outcome == "queued"
            empty += outcome == "empty"
            already += outcome == "already"
        return DigestOutcome(day, queued, empty, already)

    async def _one(
        self, account: OperatorAccount, day: date, until: datetime, now: datetime
    ) -> str:
        """One operator's digest in one transaction: read, record, queue."""
        chat_id = account.telegram_user_id
        if chat_id is None:
            return "empty"
        company = None if account.is_admin else account.company
        async with self._uow() as uow:
            last = await uow.notices.last_digest(account.id)
            since = until - timedelta(days=1) if last is None else last
            since = max(min(since, until), until - LOOK_BACK)
            found = await uow.notices.recent(company=company, since=since, until=until)
            if not await uow.notices.claim_digest(day, account.id, since, until, len(found), now):
                return "already"
            if found:
                conversation = await uow.conversations.get(f"telegram:{chat_id}")
                language = (
                    conversation.language
                    if conversation is not None and conversation.language
                    else self._policy.default_language
                )
                scope = (
                    messages.text("operator.scope_all", language)
                    if account.is_admin
                    else account.company
                )
                text = digest_text(
                    found,
                    day=day,
                    since=since,
                    until=until,
                    scope=scope,
                    with_company=account.is_admin,
                    language=language,
                )
                await uow.notices.queue_telegram(None, chat_id, text, now)
                await uow.audit.add(
                    AuditEntry(
                        now,
                        "system",
                        Channel.TELEGRAM,
                        "notice.digest",
                        f"operator:{account.id}",
                        {"day": day.isoformat(), "notices": str(len(found))},
                    )
                )
            await uow.commit()
        return "queued" if found else "empty"
