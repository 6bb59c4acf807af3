"""Rows claimed with a lease: the scheme shared by the SMS outbox (:mod:`storage.outbox.queue`)
and the Telegram notice queue (:mod:`storage.notices.queue`).

A due row is ``pending``, or ``sending`` under a lease that ran out (its worker died or
hung), and its ``next_attempt_at`` has come. Claimers read due rows with ``FOR UPDATE
SKIP LOCKED`` (rendered on PostgreSQL only; SQLite transactions take turns anyway), so
concurrent workers each get different rows, and stamp them with a token unique to the
claim. Every later mark checks that token, so a worker whose lease ran out cannot
overwrite the result of the one that took its row over. Taking over an expired lease
counts the lost try, so a message that kills its worker every time still runs out of
tries instead of looping for ever.

The tables differ only in what else a claim reads (the outbox also asks whether the
phone opted out) and how due rows are ordered; both pass those in.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Select, Table, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection


def claim_token(worker_id: str) -> str:
    """Unique to one claim, so marks made under an older claim of the row fail."""
    return f"{worker_id}/{secrets.token_hex(4)}"


def due(
    table: Table,
    now: datetime,
    limit: int,
    *,
    order_by: Sequence[ColumnElement[Any]],
    extra: Sequence[ColumnElement[Any]] = (),
) -> Select[Any]:
    """The ids (and ``extra`` columns) of up to ``limit`` due rows, locked for the claim."""
    c = table.c
    return (
        select(c.id, *extra)
        .where(
            or_(c.state == "pending", (c.state == "sending") & (c.lease_until <= now)),
            c.next_attempt_at <= now,
        )
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def take(
    conn: AsyncConnection,
    table: Table,
    ids: Sequence[int],
    token: str,
    now: datetime,
    lease_until: datetime,
) -> CursorResult[Any]:
    """Mark ``ids`` as ``sending`` under ``token`` until ``lease_until``; the rows back."""
    c = table.c
    return await conn.execute(
        update(table)
        .where(c.id.in_(ids))
        .values(
            state="sending",
            attempts=c.attempts + case((c.state == "sending", 1), else_=0),
            lease_until=lease_until,
            claimed_by=token,
            updated_at=now,
        )
        .returning(*c)
    )


async def finish(
    conn: AsyncConnection,
    table: Table,
    row_id: int,
    token: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Record the outcome of a claimed row, if the claim is still ours: ``False`` when
    another worker has taken the row over (our lease ran out) or it is no longer sending."""
    c = table.c
    result = await conn.execute(
        update(table)
        .where(c.id == row_id, c.state == "sending", c.claimed_by == token)
        .values(lease_until=None, updated_at=now, **values)
    )
    return result.rowcount == 1
