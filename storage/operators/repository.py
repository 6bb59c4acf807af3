"""Operator accounts: :class:`core.ports.OperatorRepository` in SQL.

The table's unique constraints back the rules core relies on: one account per Telegram
user, one account per link code hash. Spending a code is a conditional ``UPDATE`` (the
code must still be the one that was looked up), so two ``/link`` messages racing with
the same code bind one chat, whichever backend runs it.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.operators.accounts import OperatorAccount
from storage.tables import operators

_t = operators


def _account(row: Any) -> OperatorAccount:
    return OperatorAccount(
        id=row.id,
        name=row.name,
        company=row.company,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
        telegram_user_id=row.telegram_user_id,
        link_code_hash=row.link_code_hash,
        link_code_expires_at=row.link_code_expires_at,
        revoked_at=row.revoked_at,
    )


class SqlOperatorRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, account: OperatorAccount) -> None:
        await self._conn.execute(
            insert(_t).values(
                id=account.id,
                name=account.name,
                company=account.company,
                is_admin=account.is_admin,
                telegram_user_id=account.telegram_user_id,
                link_code_hash=account.link_code_hash,
                link_code_expires_at=account.link_code_expires_at,
                created_at=account.created_at,
                revoked_at=account.revoked_at,
            )
        )

    async def _one(self, *where: Any) -> OperatorAccount | None:
        row = (await self._conn.execute(select(_t).where(*where))).first()
        return _account(row) if row is not None else None

    async def get(self, operator_id: str) -> OperatorAccount | None:
        return await self._one(_t.c.id == operator_id)

    async def list(self) -> builtins.list[OperatorAccount]:
        query = select(_t).order_by(_t.c.created_at, _t.c.id)
        return [_account(row) for row in await self._conn.execute(query)]

    async def by_telegram_user(self, telegram_user_id: str) -> OperatorAccount | None:
        return await self._one(_t.c.telegram_user_id == telegram_user_id)

    async def by_link_code_hash(self, code_hash: str) -> OperatorAccount | None:
        return await self._one(_t.c.link_code_hash == code_hash)

    async def set_link_code(
        self, operator_id: str, code_hash: str | None, expires_at: datetime | None
    ) -> None:
        await self._conn.execute(
            update(_t)
            .where(_t.c.id == operator_id)
            .values(link_code_hash=code_hash, link_code_expires_at=expires_at)
        )

    async def spend_link_code(self, operator_id: str, code_hash: str) -> bool:
        result = await self._conn.execute(
            update(_t)
            .where(_t.c.id == operator_id, _t.c.link_code_hash == code_hash)
            .values(link_code_hash=None, link_code_expires_at=None)
        )
        return result.rowcount == 1

    async def bind_telegram(self, operator_id: str, telegram_user_id: str | None) -> None:
        await self._conn.execute(
            update(_t).where(_t.c.id == operator_id).values(telegram_user_id=telegram_user_id)
        )

    async def revoke(self, operator_id: str, at: datetime) -> None:
        await self._conn.execute(
            update(_t)
            .where(_t.c.id == operator_id)
            .values(
                revoked_at=at,
                telegram_user_id=None,
                link_code_hash=None,
                link_code_expires_at=None,
            )
        )
