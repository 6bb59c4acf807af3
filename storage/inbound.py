"""Inbound de-duplication: Twilio retries webhooks and Telegram re-sends updates.

A channel claims ``(channel, message_id)`` before acting. The first claim wins and
later ones get the stored reply back, so a retry is answered again without verifying,
counting a wrong code, or sending an SMS twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import inbound_messages


@dataclass(frozen=True, slots=True)
class Seen:
    """A message handled before; ``reply`` is what it was answered (``None`` while the
    first delivery is still being handled, or when it needed no answer)."""

    reply: str | None


class InboundLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(
        self,
        channel: str,
        message_id: str,
        at: datetime,
        *,
        abandoned_after: timedelta | None = None,
    ) -> Seen | None:
        """``None`` if this is the first time (the caller now acts on it), else the
        earlier delivery's outcome.

        With ``abandoned_after``, a claim that never got its reply stored within that
        time is taken over: the process that made it died mid-turn (its transaction
        rolled back), so acting again is acting once. Twilio gives up on a webhook after
        15 s, so 20 s is safely past any first delivery still in progress."""
        insert = sqlite.insert if self._engine.dialect.name == "sqlite" else postgresql.insert
        statement = (
            insert(inbound_messages)
            .values(channel=channel, message_id=message_id, received_at=at)
            .on_conflict_do_nothing(
                index_elements=[inbound_messages.c.channel, inbound_messages.c.message_id]
            )
        )
        async with self._engine.begin() as conn:
            inserted = (await conn.execute(statement)).rowcount == 1
            if inserted:
                return None
            if abandoned_after is not None:
                taken_over = await conn.execute(
                    update(inbound_messages)
                    .where(
                        inbound_messages.c.channel == channel,
                        inbound_messages.c.message_id == message_id,
                        inbound_messages.c.reply.is_(None),
                        inbound_messages.c.received_at < at - abandoned_after,
                    )
                    .values(received_at=at)
                )
                if taken_over.rowcount == 1:
                    return None
            query = select(inbound_messages.c.reply).where(
                inbound_messages.c.channel == channel,
                inbound_messages.c.message_id == message_id,
            )
            return Seen((await conn.execute(query)).scalar_one_or_none())

    async def remember(self, channel: str, message_id: str, reply: str | None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(inbound_messages)
                .where(
                    inbound_messages.c.channel == channel,
                    inbound_messages.c.message_id == message_id,
                )
                .values(reply=reply)
            )

    async def forget_before(self, before: datetime) -> int:
        """Housekeeping: retries come within minutes; a day's log is plenty."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(inbound_messages).where(inbound_messages.c.received_at < before)
            )
            return result.rowcount
