"""The Telegram side of notices: messages queued in ``notice_messages`` (a notice to a
chat that verified the pass, an operator's daily digest) as ``portpass serve`` sends them.

The same claim-with-a-lease scheme as the SMS outbox (:mod:`storage.outbox`): due rows
are taken under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite transactions take turns
anyway), stamped with a token unique to the claim, and every mark checks the token, so
two instances never send one row at once and a worker whose lease ran out cannot
overwrite the result of the one that took the row over. Sending is at least once: a
crash after Telegram took the message but before the mark sends it again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import notice_messages


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    id: int
    notice_id: int | None
    chat_id: str
    text: str
    attempts: int


@dataclass(frozen=True, slots=True)
class MessageClaim:
    message: QueuedMessage
    token: str


class TelegramQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(
        self, worker_id: str, now: datetime, lease: timedelta, limit: int
    ) -> list[MessageClaim]:
        """Up to ``limit`` due rows, oldest first, leased to this claim. A row whose lease
        expired (its worker died) is due again, and the lost try counts as an attempt."""
        token = f"{worker_id}/{secrets.token_hex(4)}"
        due = (
            select(notice_messages.c.id)
            .where(
                or_(
                    notice_messages.c.state == "pending",
                    (notice_messages.c.state == "sending") & (notice_messages.c.lease_until <= now),
                ),
                notice_messages.c.next_attempt_at <= now,
            )
            .order_by(notice_messages.c.next_attempt_at, notice_messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as conn:
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            taken = await conn.execute(
                update(notice_messages)
                .where(notice_messages.c.id.in_(ids))
                .values(
                    state="sending",
                    attempts=notice_messages.c.attempts
                    + case((notice_messages.c.state == "sending", 1), else_=0),
                    lease_until=now + lease,
                    claimed_by=token,
                    updated_at=now,
                )
                .returning(*notice_messages.c)
            )
            rows = sorted(taken, key=lambda row: (row.next_attempt_at, row.id))
        return [MessageClaim(_message(row), token) for row in rows]

    async def mark_sent(self, claim: MessageClaim, now: datetime) -> bool:
        return await self._finish(
            claim, now, state="sent", attempts=notice_messages.c.attempts + 1, error=None
        )

    async def retry_later(
        self, claim: MessageClaim, at: datetime, error: str, now: datetime
    ) -> bool:
        return await self._finish(
            claim,
            now,
            state="pending",
            attempts=notice_messages.c.attempts + 1,
            next_attempt_at=at,
            error=error,
        )

    async def fail(self, claim: MessageClaim, error: str, now: datetime) -> bool:
        """Never to be sent (the user blocked the bot, the chat is gone, out of tries)."""
        return await self._finish(
            claim, now, state="failed", attempts=notice_messages.c.attempts + 1, error=error
        )

    async def put_back(self, claim: MessageClaim, now: datetime) -> bool:
        """Shutting down: due again at once, not counted as a try."""
        return await self._finish(claim, now, state="pending")

    async def next_due(self) -> datetime | None:
        query = select(func.min(notice_messages.c.next_attempt_at)).where(
            notice_messages.c.state == "pending"
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    async def _finish(self, claim: MessageClaim, now: datetime, **values: Any) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(notice_messages)
                .where(
                    notice_messages.c.id == claim.message.id,
                    notice_messages.c.state == "sending",
                    notice_messages.c.claimed_by == claim.token,
                )
                .values(lease_until=None, updated_at=now, **values)
            )
        return result.rowcount == 1


def _message(row: Any) -> QueuedMessage:
    return QueuedMessage(
        id=row.id,
        notice_id=row.notice_id,
        chat_id=row.chat_id,
        text=row.text,
        attempts=row.attempts,
    )
