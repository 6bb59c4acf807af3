"""Passes joined with their holders: :class:`core.ports.PassRepository` in SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import PassRecord, Status
from core.values import IdNumber, PassNumber, Phone
from storage.status import status_case
from storage.tables import passes, persons, sms_opt_outs

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


# A code check, and a status question, read and mark passes through these statements
# (the hot path): each is built once, with bind parameters, so SQLAlchemy reuses its
# cache key and compiled SQL instead of building the statement again on every call.
_GET = _select_records().where(passes.c.pass_no == bindparam("pass_no"))
# Only the pass row: persons may be missing (outer join) and need no lock.
_GET_LOCKED = _GET.with_for_update(of=passes)
_WITH_PHONE = (
    _select_records().where(persons.c.phone == bindparam("phone")).order_by(passes.c.pass_no)
)
# In an UPDATE, a parameter named like a column is a column to SET: the rows to change
# are named by "match_..." parameters.
_SET_VERIFIED_PHONE = (
    update(passes)
    .where(passes.c.pass_no == bindparam("match_pass_no"))
    .values(
        verified_phone=bindparam("phone"), verified_at=bindparam("at"), updated_at=bindparam("at")
    )
)
_SET_PERSON_PHONE = (
    update(persons)
    .where(persons.c.id_no == bindparam("match_id_no"))
    .values(phone=bindparam("new_phone"), updated_at=bindparam("at"))
)


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
        query = _GET_LOCKED if lock else _GET
        row = (await self._conn.execute(query, {"pass_no": pass_no.value})).first()
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

    async def count_opted_out(self, *, company: str | None = None) -> int:
        query = select(func.count()).select_from(
            _JOINED.join(sms_opt_outs, sms_opt_outs.c.phone == persons.c.phone)
        )
        if company is not None:
            query = query.where(passes.c.company == company)
        return int((await self._conn.execute(query)).scalar_one())

    async def with_phone(self, phone: Phone) -> builtins.list[PassRecord]:
        rows = await self._conn.execute(_WITH_PHONE, {"phone": phone.e164})
        return [_record(row) for row in rows]

    async def set_verified_phone(self, pass_no: PassNumber, phone: Phone, at: datetime) -> None:
        values = {"match_pass_no": pass_no.value, "phone": phone.e164, "at": at}
        await self._conn.execute(_SET_VERIFIED_PHONE, values)

    async def set_person_phone(self, id_no: IdNumber, phone: Phone, at: datetime) -> None:
        """R5: the operator's new number becomes the phone on file.

        A missing person record is left missing: there is no name to create it with,
        and R6 means no code could have been sent for a person without a record.
        """
        values = {"match_id_no": id_no.value, "new_phone": phone.e164, "at": at}
        await self._conn.execute(_SET_PERSON_PHONE, values)
