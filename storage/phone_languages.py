"""The language each phone last used: :class:`core.ports.PhoneLanguageRepository` in SQL.

One row per phone, replaced on every use (``INSERT ... ON CONFLICT DO UPDATE``), so the
language is the last one the holder chose, whichever channel they chose it on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.values import Phone
from storage.tables import phone_languages

_t = phone_languages
_GET = select(_t.c.language).where(_t.c.phone == bindparam("phone"))


@cache
def _upsert(dialect_name: str) -> Executable:
    insert = (sqlite.insert if dialect_name == "sqlite" else postgresql.insert)(_t)
    return insert.on_conflict_do_update(
        index_elements=[_t.c.phone],
        set_={"language": insert.excluded.language, "used_at": insert.excluded.used_at},
    )


class SqlPhoneLanguageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, phone: Phone) -> str | None:
        return (await self._conn.execute(_GET, {"phone": phone.e164})).scalar_one_or_none()

    async def among(self, phones: Iterable[Phone]) -> dict[Phone, str]:
        """In one query: a batch of notices texts many phones."""
        wanted = sorted({phone.e164 for phone in phones})
        if not wanted:
            return {}
        query = select(_t.c.phone, _t.c.language).where(_t.c.phone.in_(wanted))
        return {Phone(row.phone): row.language for row in await self._conn.execute(query)}

    async def remember(self, phone: Phone, language: str, at: datetime) -> None:
        statement = _upsert(self._conn.dialect.name)
        values = {"phone": phone.e164, "language": language, "used_at": at}
        await self._conn.execute(statement, values)
