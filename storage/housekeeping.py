"""Retention: rows that hold personal data or only matter for a while are deleted once
they are old enough, in small batches.

Taiwan's Personal Data Protection Act (個人資料保護法, art. 11) asks that personal data be
deleted once the purpose of collecting it has ended. What each table is kept for, and so
how long by default (:class:`Retention`; ``retention.*`` in the config, in days):

- ``verification_requests`` (pass, ID number, phone a code went to): 90 days after the
  code expired. R2 needs a day; the rest is for a holder's or an operator's question
  about a verification ("when was the code sent, to which number?"). A pass's verified
  phone and its time are on the pass itself, so status (R7) never needs old requests.
- ``outbox`` (phone, body; bodies with a code are redacted once the provider has the
  message): 30 days after the last change, for delivery questions. Rows still to send
  are never pruned.
- ``conversations`` (what a holder typed so far): 30 days after the last message. A
  conversation times out after 30 minutes idle, or after the 24-hour code.
- ``inbound_messages`` (ids of messages seen, for de-duplication): 1 day; Twilio and
  Telegram retry within minutes.
- ``lookup_failures`` (who failed a lookup): 1 day; the cool-down looks back one hour.
- ``audit_log`` (masked values only): 365 days, for security investigations.
- ``send_questions`` (an operator's pending /send question, with the phone it showed):
  1 day, as long as such a question can be answered (:mod:`core.operators.questions`).
- ``phone_languages`` (a phone and the language it last used): 365 days after its last
  use, long enough for a yearly campaign to reach the holder in their language.

Deleting happens in batches of :data:`BATCH_ROWS` rows, each its own short transaction,
so a SQLite writer never waits long behind housekeeping and PostgreSQL never holds a
large lock. Several ``serve`` processes may prune at once: deleting rows that are already
gone is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.tables import (
    audit_log,
    conversations,
    inbound_messages,
    lookup_failures,
    outbox,
    phone_languages,
    send_questions,
    verification_requests,
)

BATCH_ROWS = 1000


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each table's rows are kept (see the module docstring for why)."""

    verification_requests: timedelta = timedelta(days=90)
    outbox: timedelta = timedelta(days=30)
    conversations: timedelta = timedelta(days=30)
    inbound_messages: timedelta = timedelta(days=1)
    lookup_failures: timedelta = timedelta(days=1)
    audit_log: timedelta = timedelta(days=365)
    send_questions: timedelta = timedelta(days=1)
    phone_languages: timedelta = timedelta(days=365)


#: Per table: which rows are old enough, given the cutoff (now minus its retention).
_OLD: dict[str, Callable[[datetime], ColumnElement[bool]]] = {
    "verification_requests": lambda cutoff: verification_requests.c.expires_at < cutoff,
    "outbox": lambda cutoff: (
        outbox.c.state.not_in(("pending", "sending")) & (outbox.c.updated_at < cutoff)
    ),
    "conversations": lambda cutoff: conversations.c.updated_at < cutoff,
    "inbound_messages": lambda cutoff: inbound_messages.c.received_at < cutoff,
    "lookup_failures": lambda cutoff: lookup_failures.c.at < cutoff,
    "audit_log": lambda cutoff: audit_log.c.at < cutoff,
    "send_questions": lambda cutoff: send_questions.c.asked_at < cutoff,
    "phone_languages": lambda cutoff: phone_languages.c.used_at < cutoff,
}
_TABLES: dict[str, Table] = {
    "verification_requests": verification_requests,
    "outbox": outbox,
    "conversations": conversations,
    "inbound_messages": inbound_messages,
    "lookup_failures": lookup_failures,
    "audit_log": audit_log,
    "send_questions": send_questions,
    "phone_languages": phone_languages,
}


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows deleted (or, on a dry run, that would be) per table."""

    verification_requests: int = 0
    outbox: int = 0
    conversations: int = 0
    inbound_messages: int = 0
    lookup_failures: int = 0
    audit_log: int = 0
    send_questions: int = 0
    phone_languages: int = 0

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]

    @property
    def total(self) -> int:
        return sum(n for _, n in self.items())


async def prune(
    engine: AsyncEngine,
    now: datetime,
    retention: Retention | None = None,
    *,
    dry_run: bool = False,
    batch: int = BATCH_ROWS,
) -> Pruned:
    """Delete what ``retention`` no longer keeps; with ``dry_run``, only count it."""
    keep = retention or Retention()
    counts = {}
    for name, old in _OLD.items():
        where = old(now - getattr(keep, name))
        if dry_run:
            counts[name] = await _count(engine, _TABLES[name], where)
        else:
            counts[name] = await _delete_in_batches(engine, _TABLES[name], where, batch)
    return Pruned(**counts)


async def _count(engine: AsyncEngine, table: Table, where: ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(table).where(where))).scalar_one()
        )


async def _delete_in_batches(
    engine: AsyncEngine, table: Table, where: ColumnElement[bool], batch: int
) -> int:
    key = tuple_(*table.primary_key.columns)
    chosen = select(*table.primary_key.columns).where(where).limit(batch)
    deleted = 0
    while True:
        async with engine.begin() as conn:
            result = await conn.execute(delete(table).where(key.in_(chosen)))
        deleted += result.rowcount
        if result.rowcount < batch:
            return deleted
