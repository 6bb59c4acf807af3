"""The audit log and the failed-lookup log: append-only records of what happened.

Audit ``detail`` is stored as a JSON object. Core puts only masked values in it
(:class:`core.model.AuditEntry`), so the table is safe to show to support engineers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import AuditEntry
from storage.tables import audit_log, lookup_failures

# Every verification, and every look-up that could be refused, goes through these
# statements (the hot path): each is built once, with bind parameters, so SQLAlchemy
# reuses its cache key and compiled SQL instead of building it again on every call.
# The INSERTs take their columns from the parameters.
_ADD_ENTRY = insert(audit_log)
_RECORD_FAILURE = insert(lookup_failures)
_FAILURES_SINCE = (
    select(lookup_failures.c.at)
    .where(lookup_failures.c.key == bindparam("key"), lookup_failures.c.at >= bindparam("since"))
    .order_by(lookup_failures.c.at, lookup_failures.c.id)
)


class SqlAuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        #: ``(channel, action)`` of the entries added since the last commit, which the
        #: unit of work hands to its audit listeners (metrics) once committed.
        self.added: list[tuple[str, str]] = []

    async def add(self, entry: AuditEntry) -> None:
        await self._conn.execute(_ADD_ENTRY, _values(entry))
        self.added.append((entry.channel.value, entry.action))

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        """One statement for a batch (a notice batch writes one entry per notice)."""
        if entries:
            await self._conn.execute(_ADD_ENTRY, [_values(entry) for entry in entries])
            self.added.extend((entry.channel.value, entry.action) for entry in entries)


def _values(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": entry.at,
        "actor": entry.actor,
        "channel": entry.channel.value,
        "action": entry.action,
        "subject": entry.subject,
        "detail": json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
    }


class SqlFailureRepository:
    """Failed lookups per requester key, read back for the cool-down window."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, key: str, at: datetime) -> None:
        await self._conn.execute(_RECORD_FAILURE, {"key": key, "at": at})

    async def since(self, key: str, since: datetime) -> list[datetime]:
        result = await self._conn.execute(_FAILURES_SINCE, {"key": key, "since": since})
        return list(result.scalars())
