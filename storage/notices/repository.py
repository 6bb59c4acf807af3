"""Notices in SQL: :class:`core.notices.service.NoticeRepository` inside a unit of work.

A notice row is written in the same transaction as its SMS (the outbox row it points
to), its Telegram messages and its audit entry. ``event_id`` is unique: the insert
skips a row whose event is already stored (``ON CONFLICT DO NOTHING``), so two
requests carrying one event at the same moment store it once, and the loser learns it
from the missing id instead of an integrity error that would undo its whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import RequestState
from core.notices.events import NoticeKind
from core.notices.records import Notice, NoticeDraft, Reach, Source, Unreachable, VerifyingChat
from core.values import PassNumber, Phone
from storage.tables import notice_digests, notice_messages, notices, outbox, verification_requests

_TELEGRAM = "telegram:"

_WITH_SMS_STATE = notices.outerjoin(outbox, outbox.c.id == notices.c.outbox_id)


def _select() -> Select[Any]:
    return select(notices, outbox.c.state.label("sms_state")).select_from(_WITH_SMS_STATE)


def _notice(row: Any) -> Notice:
    return Notice(
        id=row.id,
        event_id=row.event_id,
        pass_no=PassNumber(row.pass_no),
        company=row.company,
        kind=NoticeKind(row.kind),
        occurred_at=row.occurred_at,
        detail=row.detail,
        received_at=row.received_at,
        source=Source(row.source),
        reach=Reach(row.reach),
        reason=Unreachable(row.reason) if row.reason else None,
        telegram_chats=row.telegram_chats,
        sms_state=row.sms_state if row.outbox_id is not None else None,
    )


class SqlNoticeRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def stored(self, event_ids: Sequence[str]) -> dict[str, Notice]:
        if not event_ids:
            return {}
        query = _select().where(notices.c.event_id.in_(list(event_ids)))
        return {row.event_id: _notice(row) for row in await self._conn.execute(query)}

    async def add_many(self, drafts: Sequence[NoticeDraft]) -> dict[str, int]:
        if not drafts:
            return {}
        statement = _ADD_NOTICES[self._conn.dialect.name]
        result = await self._conn.execute(statement, [_values(draft) for draft in drafts])
        return {row.event_id: int(row.id) for row in result}

    async def attach_sms(self, pairs: Sequence[tuple[int, int]]) -> None:
        if pairs:
            params = [{"match_id": notice_id, "outbox_id": sms_id} for notice_id, sms_id in pairs]
            await self._conn.execute(_ATTACH_SMS, params)

    async def verifying_chats(
        self, pass_nos: Sequence[PassNumber]
    ) -> dict[PassNumber, list[VerifyingChat]]:
        """Requests asked for from a Telegram chat (``requester_key`` ``telegram:<chat>``)
        that verified the pass; an operator's request (``operator:<id>``) is no chat."""
        if not pass_nos:
            return {}
        query = (
            select(
                verification_requests.c.pass_no,
                verification_requests.c.requester_key,
                verification_requests.c.phone,
            )
            .where(
                verification_requests.c.pass_no.in_([p.value for p in pass_nos]),
                verification_requests.c.state == RequestState.VERIFIED.value,
                verification_requests.c.requester_key.like(f"{_TELEGRAM}%"),
            )
            .distinct()
            .order_by(verification_requests.c.pass_no, verification_requests.c.requester_key)
        )
        found: dict[PassNumber, list[VerifyingChat]] = {}
        for row in await self._conn.execute(query):
            chat = VerifyingChat(row.requester_key.removeprefix(_TELEGRAM), Phone(row.phone))
            found.setdefault(PassNumber(row.pass_no), []).append(chat)
        return found

    async def queue_telegram(
        self, notice_id: int | None, chat_id: str, text: str, at: datetime
    ) -> None:
        await self._conn.execute(
            _QUEUE_MESSAGE,
            {
                "notice_id": notice_id,
                "chat_id": chat_id,
                "text": text,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "updated_at": at,
            },
        )

    async def last_digest(self, operator_id: str) -> datetime | None:
        query = select(func.max(notice_digests.c.until)).where(
            notice_digests.c.operator_id == operator_id
        )
        return (await self._conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    async def claim_digest(
        self,
        day: date,
        operator_id: str,
        since: datetime,
        until: datetime,
        count: int,
        at: datetime,
    ) -> bool:
        values = {
            "day": day,
            "operator_id": operator_id,
            "since": since,
            "until": until,
            "notices": count,
            "created_at": at,
        }
        statement = _insert_or_skip(self._conn.dialect.name, notice_digests, ["day", "operator_id"])
        result = await self._conn.execute(statement, values)
        return result.rowcount == 1

    async def recent(
        self,
        *,
        company: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
        unreachable_only: bool = False,
        limit: int | None = None,
    ) -> list[Notice]:
        query = _select()
        if company is not None:
            query = query.where(notices.c.company == company)
        if since is not None:
            query = query.where(notices.c.received_at >= since)
        if until is not None:
            query = query.where(notices.c.received_at < until)
        if unreachable_only:
            query = query.where(notices.c.reach == Reach.UNREACHABLE.value)
        query = query.order_by(notices.c.received_at.desc(), notices.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        return [_notice(row) for row in await self._conn.execute(query)]


def _insert_or_skip(dialect: str, table: Table, keys: list[str]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` in the connection's dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


# A batch of 10,000 events runs these once per event: each is built once, with bind
# parameters, so SQLAlchemy reuses its cache key and compiled SQL (building a statement
# with its values inside cost more than running it).
_ADD_NOTICES = {
    dialect: _insert_or_skip(dialect, notices, ["event_id"]).returning(
        notices.c.id, notices.c.event_id
    )
    for dialect in ("postgresql", "sqlite")
}


def _values(draft: NoticeDraft) -> dict[str, Any]:
    event = draft.event
    return {
        "event_id": event.event_id,
        "pass_no": event.pass_no.value,
        "company": draft.company,
        "kind": event.kind.value,
        "occurred_at": event.occurred_at,
        "detail": event.detail,
        "received_at": draft.received_at,
        "source": draft.source.value,
        "reach": draft.reach.value,
        "reason": draft.reason.value if draft.reason else None,
        "telegram_chats": draft.telegram_chats,
        "outbox_id": None,
    }


_ATTACH_SMS = (
    update(notices)
    .where(notices.c.id == bindparam("match_id"))
    .values(outbox_id=bindparam("outbox_id"))
)
_QUEUE_MESSAGE = insert(notice_messages)
