"""One Telegram turn at a time per chat across every ``serve`` process.

Telegram may deliver two updates of one chat at once over parallel webhook connections,
and with several processes they may land in two of them. The conversation row is read
``FOR UPDATE``, so two turns never both save over the same state; but a chat's very
first turn has no row to lock yet, and the replies are sent after the turn commits, so
without more the second turn's answer could reach the holder before the first's.

On PostgreSQL a chat's turn therefore holds a transaction-level advisory lock on the
chat, from before the state is read until its replies are sent. The lock lives on a
connection of a small engine of its own: turns take their connections from the main
pool, so lock holders waiting for the pool can never starve the turns they wait for.
Ending the transaction (commit, rollback, or the connection dying with its process)
releases the lock; nothing is left to clean up.

Measured cost: one extra round trip to take the lock and one to
end the transaction per turn: 0.6 ms on a local PostgreSQL (median of 5 x 1000,
load average 3.9 on the shared 2-core machine); a Telegram turn
spends far more waiting for the Bot API.

SQLite needs none of this: one process serves it, and its in-process lock
(:class:`bot.telegram.holder.ChatLocks`) is the whole story.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import func

#: The first key of the two-key advisory lock: ours, "PPVT", apart from other users.
NAMESPACE = 0x50505654

_LOCK = select(func.pg_advisory_xact_lock(bindparam("space"), bindparam("key")))


def lock_key(chat: int) -> int:
    """A 64-bit chat id folded into PostgreSQL's int4: two chats that fold alike only
    wait for each other now and then, which costs time and never order."""
    return chat % 2**32 - 2**31


class TurnOrder:
    """``hold(chat)``: one turn of ``chat`` at a time in the whole deployment; a no-op
    without an engine (SQLite)."""

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        self._engine = engine

    @property
    def shared(self) -> bool:
        return self._engine is not None

    @asynccontextmanager
    async def hold(self, chat: int) -> AsyncIterator[None]:
        if self._engine is None:
            yield
            return
        async with self._engine.connect() as conn:
            await conn.execute(_LOCK, {"space": NAMESPACE, "key": lock_key(chat)})
            try:
                yield
            finally:
                await conn.rollback()  # the lock goes with the transaction

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
