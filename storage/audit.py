"""The audit log and the failed-lookup log: append-only records of what happened.

Audit ``detail`` is stored as a JSON object. Core puts only masked values in it
(:class:`core.model.AuditEntry`), so the table is safe to show to support engineers.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import AuditEntry
from storage.tables import audit_log, lookup_failures


class SqlAuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, entry: AuditEntry) -> None:
        await self._conn.execute(
            insert(audit_log).values(
                at=entry.at,
                actor=entry.actor,
                channel=entry.channel.value,
                action=entry.action,
                subject=entry.subject,
                detail=json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
            )
        )


class SqlFailureRepository:
    """Failed lookups per requester key, read back for the cool-down window."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, key: str, at: datetime) -> None:
        await self._conn.execute(insert(lookup_failures).values(key=key, at=at))

    async def since(self, key: str, since: datetime) -> list[datetime]:
        query = (
            select(lookup_failures.c.at)
            .where(lookup_failures.c.key == key, lookup_failures.c.at >= since)
            .order_by(lookup_failures.c.at, lookup_failures.c.id)
        )
        return list((await self._conn.execute(query)).scalars())
