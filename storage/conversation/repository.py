"""Conversation state by participant, as JSON: a restart or a second instance
continues the same conversation (docs/design.md#channels-translate)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.conversation.state import Conversation
from storage.tables import conversations

_t = conversations

# Every statement below runs once per conversation turn (the hot path): each is built
# once, with bind parameters, so SQLAlchemy reuses its cache key and compiled SQL
# instead of building the statement again on every call.

# Locked until the turn commits: two messages from one sender at once (two instances
# on PostgreSQL) take turns instead of overwriting each other's state.
_GET = select(_t.c.state).where(_t.c.key == bindparam("key")).with_for_update()


@cache
def _upsert(dialect_name: str) -> Executable:
    """``INSERT ... ON CONFLICT (key) DO UPDATE``, built once per dialect; the values
    are the ``key``, ``state`` and ``updated_at`` parameters."""
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    statement = insert(_t)
    return statement.on_conflict_do_update(
        index_elements=[_t.c.key],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )


#: The state of the conversation named by the ``key`` parameter, as a scalar subquery
#: (:mod:`storage.conversation.inbound` reads it in the same statement as a message's claim).
STATE_OF_KEY = select(_t.c.state).where(_t.c.key == bindparam("key")).scalar_subquery()


def conversation_from(state: str | None) -> Conversation | None:
    """A stored ``state`` column as the conversation it holds (``None``: none yet)."""
    return None if state is None else Conversation.from_json(json.loads(state))


class SqlConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, key: str) -> Conversation | None:
        state = (await self._conn.execute(_GET, {"key": key})).scalar_one_or_none()
        return conversation_from(state)

    async def save(self, key: str, conversation: Conversation) -> None:
        values: dict[str, Any] = {
            "key": key,
            "state": json.dumps(conversation.to_json(), ensure_ascii=False),
            "updated_at": conversation.updated_at or datetime.now(UTC),
        }
        await self._conn.execute(_upsert(self._conn.dialect.name), values)
