"""Inbound de-duplication: Twilio retries webhooks and Telegram re-sends updates.

A message is claimed by ``(channel, message_id)`` before it is acted on. The first
claim wins and later ones get the stored reply back, so a retry is answered again
without verifying, counting a wrong code, or sending an SMS twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Executable, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.conversation.state import Conversation
from core.values import Phone
from storage.conversation.repository import (
    STATE_OF_KEY,
    SqlConversationRepository,
    conversation_from,
)
from storage.opt_outs import OPTED_OUT, SqlOptOutRepository
from storage.tables import inbound_messages

_t = inbound_messages
# Not named "channel" and "message_id": in an UPDATE those names would be the columns
# to SET (SQLAlchemy refuses a bindparam named like one).
_THIS_MESSAGE = (
    _t.c.channel == bindparam("match_channel"),
    _t.c.message_id == bindparam("match_message_id"),
)

# Every inbound SMS claims, and answers, through the statements below (the hot path):
# each is built once, with bind parameters, so SQLAlchemy reuses its cache key and
# compiled SQL instead of building the statement again on every call.
_REPLY_FOR = select(_t.c.reply).where(*_THIS_MESSAGE)
_REMEMBER = update(_t).where(*_THIS_MESSAGE).values(reply=bindparam("reply"))
_RELEASE = delete(_t).where(*_THIS_MESSAGE)


@cache
def _claim(dialect_name: str) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING``, built once per dialect; the values are the
    ``channel``, ``message_id`` and ``received_at`` parameters."""
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    return insert(_t).on_conflict_do_nothing(index_elements=[_t.c.channel, _t.c.message_id])


# SQLite: the claim and the conversation's state in one statement. A row comes back only
# when the message was claimed now, holding the state (NULL: no conversation yet). SQLite
# needs no row lock (its unit of work holds the database's write lock); PostgreSQL does,
# and cannot lock a row read in RETURNING, so there the two statements stay apart.
_CLAIM_READING_STATE = (
    sqlite.insert(_t)
    .on_conflict_do_nothing(index_elements=[_t.c.channel, _t.c.message_id])
    .returning(STATE_OF_KEY)
)
# And, for an SMS, whether its sender opted out: the turn asks before it replies.
_CLAIM_READING_STATE_AND_OPT_OUT = (
    sqlite.insert(_t)
    .on_conflict_do_nothing(index_elements=[_t.c.channel, _t.c.message_id])
    .returning(STATE_OF_KEY, OPTED_OUT)
)


@dataclass(frozen=True, slots=True)
class Seen:
    """A message handled before; ``reply`` is what it was answered (``None`` while the
    first delivery is still being handled, or when it needed no answer)."""

    reply: str | None


class SqlInboundRepository:
    """:class:`core.ports.InboundRepository` on one connection: the claim is part of the
    turn's transaction, so a turn that dies rolls its claim back with everything else
    and Twilio's retry is handled as if it were the first delivery."""

    def __init__(self, conn: AsyncConnection, opt_outs: SqlOptOutRepository | None = None) -> None:
        self._conn = conn
        self._opt_outs = opt_outs  # told what the claim read of the sender's opt-out

    async def claim(self, channel: str, message_id: str, at: datetime) -> bool:
        statement = _claim(self._conn.dialect.name)
        values = {"channel": channel, "message_id": message_id, "received_at": at}
        # On PostgreSQL a concurrent duplicate waits here until the first commits.
        return (await self._conn.execute(statement, values)).rowcount == 1

    async def claim_turn(
        self, channel: str, message_id: str, at: datetime, key: str, phone: Phone | None = None
    ) -> tuple[bool, Conversation | None]:
        if self._conn.dialect.name == "sqlite":
            values = {"channel": channel, "message_id": message_id, "received_at": at, "key": key}
            if phone is None or self._opt_outs is None:
                row = (await self._conn.execute(_CLAIM_READING_STATE, values)).first()
            else:
                values["opt_out_phone"] = phone.e164
                statement = _CLAIM_READING_STATE_AND_OPT_OUT
                row = (await self._conn.execute(statement, values)).first()
                if row is not None:
                    self._opt_outs.learned(phone, bool(row[1]))
            return (False, None) if row is None else (True, conversation_from(row[0]))
        if not await self.claim(channel, message_id, at):
            return False, None
        return True, await SqlConversationRepository(self._conn).get(key)

    async def reply_for(self, channel: str, message_id: str) -> str | None:
        values = {"match_channel": channel, "match_message_id": message_id}
        return (await self._conn.execute(_REPLY_FOR, values)).scalar_one_or_none()

    async def remember(self, channel: str, message_id: str, reply: str) -> None:
        values = {"match_channel": channel, "match_message_id": message_id, "reply": reply}
        await self._conn.execute(_REMEMBER, values)


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

    async def release(self, channel: str, message_id: str) -> None:
        """Forget a claim whose message could not be handled, so the transport's retry
        is handled as a first delivery (Telegram's gate claims before the turn, in a
        transaction of its own)."""
        values = {"match_channel": channel, "match_message_id": message_id}
        async with self._engine.begin() as conn:
            await conn.execute(_RELEASE, values)
