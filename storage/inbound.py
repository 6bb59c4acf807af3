"""Inbound de-duplication: Twilio retries webhooks and Telegram re-sends updates.

A message is claimed by ``(channel, message_id)`` before it is acted on. The first
claim wins and later ones get the stored reply back, so a retry is answered again
without verifying, counting a wrong code, or sending an SMS twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.tables import inbound_messages


@dataclass(frozen=True, slots=True)
class Seen:
    """A message handled before; ``reply`` is what it was answered (``None`` while the
    first delivery is still being handled, or when it needed no answer)."""

    reply: str | None


class SqlInboundRepository:
    """:class:`core.ports.InboundRepository` on one connection: the claim is part of the
    turn's transaction, so a turn that dies rolls its claim back with everything else
    and Twilio's retry is handled as if it were the first delivery."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, channel: str, message_id: str, at: datetime) -> bool:
        insert = sqlite.insert if self._conn.dialect.name == "sqlite" else postgresql.insert
        statement = (
            insert(inbound_messages)
            .values(channel=channel, message_id=message_id, received_at=at)
            .on_conflict_do_nothing(
                index_elements=[inbound_messages.c.channel, inbound_messages.c.message_id]
            )
        )
        # On PostgreSQL a concurrent duplicate waits here until the first commits.
        return (await self._conn.execute(statement)).rowcount == 1

    async def reply_for(self, channel: str, message_id: str) -> str | None:
        query = select(inbound_messages.c.reply).where(
            inbound_messages.c.channel == channel,
            inbound_messages.c.message_id == message_id,
        )
        return (await self._conn.execute(query)).scalar_one_or_none()

    async def remember(self, channel: str, message_id: str, reply: str) -> None:
        await self._conn.execute(
            update(inbound_messages)
            .where(
                inbound_messages.c.channel == channel,
                inbound_messages.c.message_id == message_id,
            )
            .values(reply=reply)
        )


class InboundLog:
    """The same log for callers outside a unit of work (Telegram's update gate),
    each call in a short transaction of its own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, channel: str, message_id: str, at: datetime) -> Seen | None:
        """``None`` if this is the first time (the caller now acts on it), else the
        earlier delivery's outcome."""
        async with self._engine.begin() as conn:
            repository = SqlInboundRepository(conn)
            if await repository.claim(channel, message_id, at):
                return None
            return Seen(await repository.reply_for(channel, message_id))

    async def remember(self, channel: str, message_id: str, reply: str) -> None:
        async with self._engine.begin() as conn:
            await SqlInboundRepository(conn).remember(channel, message_id, reply)

    async def forget_before(self, before: datetime) -> int:
        """Housekeeping: retries come within minutes; a day's log is plenty."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(inbound_messages).where(inbound_messages.c.received_at < before)
            )
            return result.rowcount
