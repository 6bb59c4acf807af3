"""Conversation state by participant, as JSON: a restart or a second instance
continues the same conversation (DESIGN §3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.conversation import Conversation
from storage.tables import conversations


class SqlConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, key: str) -> Conversation | None:
        # Locked until the turn commits: two messages from one sender at once (two
        # instances on PostgreSQL) take turns instead of overwriting each other's state.
        query = select(conversations.c.state).where(conversations.c.key == key).with_for_update()
        state = (await self._conn.execute(query)).scalar_one_or_none()
        return None if state is None else Conversation.from_json(json.loads(state))

    async def save(self, key: str, conversation: Conversation) -> None:
        insert = sqlite.insert if self._conn.dialect.name == "sqlite" else postgresql.insert
        values = {
            "key": key,
            "state": json.dumps(conversation.to_json(), ensure_ascii=False),
            "updated_at": conversation.updated_at or datetime.now(UTC),
        }
        statement = insert(conversations).values(**values)
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=[conversations.c.key],
                set_={
                    "state": statement.excluded.state,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )
