"""Passes joined with their holders: :class:`core.ports.PassRepository` in SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import PassRecord, Status
from core.values import IdNumber, PassNumber, Phone
from storage.status import status_case
from storage.tables import passes, persons

# LEFT JOIN: a pass whose person record was deleted is still listed, as pending (R7).
_JOINED = passes.outerjoin(persons, persons.c.id_no == passes.c.id_no)


def _select_records() -> Select[Any]:
    return select(
        passes.c.pass_no,
        passes.c.id_no,
        passes.c.company,
        passes.c.valid_from,
        passes.c.valid_to,
        passes.c.verified_phone,
        passes.c.verified_at,
        persons.c.name,
        persons.c.phone,
    ).select_from(_JOINED)


def _phone(value: str | None) -> Phone | None:
    # The database holds E.164 written by this code: rebuild, do not re-parse.
    return Phone(value) if value else None


def _record(row: Any) -> PassRecord:
    return PassRecord(
        pass_no=PassNumber(row.pass_no),
        id_no=IdNumber(row.id_no),
        company=row.company,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        name=row.name,
        phone=_phone(row.phone),
        verified_phone=_phone(row.verified_phone),
        verified_at=row.verified_at,
    )


class SqlPassRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, pass_no: PassNumber, *, lock: bool = False) -> PassRecord | None:
        query = _select_records().where(passes.c.pass_no == pass_no.value)
        if lock:
            # Only the pass row: persons may be missing (outer join) and need no lock.
            query = query.with_for_update(of=passes)
        row = (await self._conn.execute(query)).first()
        return _record(row) if row is not None else None

    async def list(
        self,
        *,
        company: str | None = None,
        status: Status | None = None,
        pass_nos: Sequence[PassNumber] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> builtins.list[PassRecord]:
        """Passes ordered by pass number; ``status`` is derived and filtered in SQL,
        so ``offset``/``limit`` page through the filtered list."""
        query = _select_records()
        if company is not None:
            query = query.where(passes.c.company == company)
        if status is not None:
            query = query.where(status_case() == status.value)
        if pass_nos is not None:
            query = query.where(passes.c.pass_no.in_([p.value for p in pass_nos]))
        query = query.order_by(passes.c.pass_no).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in await self._conn.execute(query)]

    async def count_by_status(self, *, company: str | None = None) -> dict[Status, int]:
        """Every status is present, zero when no pass has it."""
        derived = status_case().label("status")
        query = select(derived, func.count()).select_from(_JOINED).group_by(derived)
        if company is not None:
            query = query.where(passes.c.company == company)
        counts = dict.fromkeys(Status, 0)
        for value, count in await self._conn.execute(query):
            counts[Status(value)] = count
        return counts

    async def with_phone(self, phone: Phone) -> builtins.list[PassRecord]:
        query = _select_records().where(persons.c.phone == phone.e164).order_by(passes.c.pass_no)
        return [_record(row) for row in await self._conn.execute(query)]

    async def set_verified_phone(self, pass_no: PassNumber, phone: Phone, at: datetime) -> None:
        await self._conn.execute(
            update(passes)
            .where(passes.c.pass_no == pass_no.value)
            .values(verified_phone=phone.e164, verified_at=at, updated_at=at)
        )

    async def set_person_phone(self, id_no: IdNumber, phone: Phone, at: datetime) -> None:
        """R5: the operator's new number becomes the phone on file.

        A missing person record is left missing: there is no name to create it with,
        and R6 means no code could have been sent for a person without a record.
        """
        await self._conn.execute(
            update(persons)
            .where(persons.c.id_no == id_no.value)
            .values(phone=phone.e164, updated_at=at)
        )
