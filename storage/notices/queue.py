"""The Telegram side of notices: messages queued in ``notice_messages`` (a notice to a
chat that verified the pass, an operator's daily digest) as ``portpass serve`` sends them.

Rows are claimed with a lease, as the SMS outbox's are (:mod:`storage.leases`), so two
instances never send one row at once. Sending is at least once: a crash after Telegram
took the message but before the mark sends it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import leases
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
        token = leases.claim_token(worker_id)
        c = notice_messages.c
        query = leases.due(notice_messages, now, limit, order_by=(c.next_attempt_at, c.id))
        async with self._engine.begin() as conn:
            ids = list((await conn.execute(query)).scalars())
            if not ids:
                return []
            taken = await leases.take(conn, notice_messages, ids, token, now, now + lease)
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
            return await leases.finish(
                conn, notice_messages, claim.message.id, claim.token, now, **values
            )


def _message(row: Any) -> QueuedMessage:
    return QueuedMessage(
        id=row.id,
        notice_id=row.notice_id,
        chat_id=row.chat_id,
        text=row.text,
        attempts=row.attempts,
    )
