"""The SMS outbox: written in the same transaction as the change that caused it.

A row is the promise that an SMS will be sent. ``add`` only queues it; the worker
(``bot/``) claims rows, sends them, retries on failure and records delivery status in
the other columns of :data:`storage.tables.outbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import OutgoingSms
from core.values import Phone
from storage.tables import outbox


@dataclass(frozen=True, slots=True)
class QueuedSms:
    """An outbox row as the worker sees it: the SMS plus its delivery bookkeeping."""

    id: int
    sms: OutgoingSms
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime


def _queued(row: Any) -> QueuedSms:
    sms = OutgoingSms(
        to=Phone(row.to_phone), body=row.body, request_id=row.request_id, kind=row.kind
    )
    return QueuedSms(
        id=row.id,
        sms=sms,
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
    )


class SqlOutboxRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, sms: OutgoingSms, at: datetime) -> None:
        await self._conn.execute(
            insert(outbox).values(
                kind=sms.kind,
                to_phone=sms.to.e164,
                body=sms.body,
                request_id=sms.request_id,
                created_at=at,
                state="pending",
                attempts=0,
                next_attempt_at=at,
                updated_at=at,
            )
        )

    async def pending(self, limit: int = 100) -> list[QueuedSms]:
        """Rows still waiting to be sent, oldest due first (no claiming yet)."""
        query = (
            select(outbox)
            .where(outbox.c.state == "pending")
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        return [_queued(row) for row in await self._conn.execute(query)]
