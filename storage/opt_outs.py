"""SMS opt-outs in SQL: :class:`core.ports.OptOutRepository`, and expressions that leave
opted-out phones out of a selection.

The table is keyed by the E.164 phone, the form ``persons.phone`` and
``outbox.to_phone`` hold, so code that selects many recipients at once (a campaign, the
outbox worker) excludes opted-out phones in the same statement with
:func:`not_opted_out`, instead of asking phone by phone::

    select(persons.c.phone).where(not_opted_out(persons.c.phone))
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Executable, bindparam, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from storage.tables import sms_opt_outs

_t = sms_opt_outs

# Asked on every code request (and every inbound SMS): built once, with bind parameters.
_GET = select(_t).where(_t.c.phone == bindparam("phone"))
_REMOVE = delete(_t).where(_t.c.phone == bindparam("phone"))
#: Whether the phone in the ``opt_out_phone`` parameter opted out, as a column to read
#: in another statement (:mod:`storage.conversation.inbound`'s claim of an SMS).
OPTED_OUT = exists().where(_t.c.phone == bindparam("opt_out_phone"))


@cache
def _add(dialect_name: str) -> Executable:
    """``INSERT ... ON CONFLICT DO NOTHING``: the first opt-out of a phone is the one
    kept (a provider refusal after a STOP does not rewrite when or why)."""
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    return insert(_t).on_conflict_do_nothing(index_elements=[_t.c.phone])


def is_opted_out(phone_column: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where ``phone_column`` (E.164) has opted out."""
    return exists().where(_t.c.phone == phone_column)


def not_opted_out(phone_column: ColumnElement[Any]) -> ColumnElement[bool]:
    """True where ``phone_column`` (E.164) may be texted: no opt-out recorded."""
    return ~is_opted_out(phone_column)


def _opt_out(row: Any) -> OptOut:
    return OptOut(
        phone=Phone(row.phone),
        opted_out_at=row.opted_out_at,
        source=OptOutSource(row.source),
        reason=row.reason,
    )


class SqlOptOutRepository:
    """One unit of work's view of the table. :meth:`is_opted_out` asks the database once
    per phone per transaction: a turn asks twice (a code request checks the phone, then
    the reply is held back for an opted-out sender), and so does a campaign target (its
    skip check, then the request's). The answer is kept until this repository itself
    changes the phone's row or the unit of work commits (:meth:`forget`); a second read
    in the same transaction would add a statement, not safety."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._known: dict[Phone, bool] = {}

    async def get(self, phone: Phone) -> OptOut | None:
        row = (await self._conn.execute(_GET, {"phone": phone.e164})).first()
        self._known[phone] = row is not None
        return _opt_out(row) if row is not None else None

    async def is_opted_out(self, phone: Phone) -> bool:
        known = self._known.get(phone)
        if known is not None:
            return known
        return await self.get(phone) is not None

    def learned(self, phone: Phone, opted_out: bool) -> None:
        """What another statement of this transaction read of ``phone`` (the SQLite
        claim of an inbound SMS reads it with the conversation: one statement fewer)."""
        self._known[phone] = opted_out

    def forget(self) -> None:
        """The transaction ended: what was read may change from now on."""
        self._known.clear()

    async def among(self, phones: Iterable[Phone]) -> set[Phone]:
        """The opted-out ones of ``phones``, in one query (a page of passes)."""
        wanted = sorted({phone.e164 for phone in phones})
        if not wanted:
            return set()
        query = select(_t.c.phone).where(_t.c.phone.in_(wanted))
        return {Phone(value) for value in (await self._conn.execute(query)).scalars()}

    async def add(self, opt_out: OptOut) -> bool:
        """Record it; ``False`` if the phone had opted out already (that record stays)."""
        values = {
            "phone": opt_out.phone.e164,
            "opted_out_at": opt_out.opted_out_at,
            "source": opt_out.source.value,
            "reason": opt_out.reason,
        }
        result = await self._conn.execute(_add(self._conn.dialect.name), values)
        self._known[opt_out.phone] = True
        return result.rowcount == 1

    async def remove(self, phone: Phone) -> bool:
        """Opt back in; ``False`` if the phone had not opted out."""
        self._known[phone] = False
        return (await self._conn.execute(_REMOVE, {"phone": phone.e164})).rowcount == 1
