"""How far a campaign has got, counted in SQL: :func:`tally` for ``campaign show``,
``watch`` and ``report`` (:class:`core.campaigns.progress.Tally` per company).

A target's SMS is found by its outbox id (the newest SMS it was sent), so counting
100,000 targets is one pass over them with primary-key lookups, whatever the size of
the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.campaigns.model import SkipReason, TargetState
from core.campaigns.progress import RATE_WINDOW, Tally
from core.model import Status
from storage.opt_outs import is_opted_out
from storage.status import status_case
from storage.tables import UtcDateTime, campaign_targets, campaigns, outbox, passes, persons

_c, _t, _o = campaigns, campaign_targets, outbox
_EXCLUDED, _QUEUED = TargetState.EXCLUDED.value, TargetState.QUEUED.value
_SENT, _SKIPPED = TargetState.SENT.value, TargetState.SKIPPED.value
_WAITING = ("pending", "sending")
_FAILED = ("failed", "undelivered")


def _at(value: datetime) -> Any:
    return literal(value, UtcDateTime())


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def tally(conn: AsyncConnection, campaign_id: int, now: datetime) -> list[Tally]:
    """Per company, ordered by company: one grouped query over the targets, their
    last SMS (by outbox id), their pass and holder, and two small ones for the
    breakdowns (failures by error code, skips by reason)."""
    started = (
        await conn.execute(select(_c.c.started_at).where(_c.c.id == campaign_id))
    ).scalar_one_or_none()
    targeted = _t.c.state != _EXCLUDED
    if started is not None:
        verified = (
            targeted
            & (status_case() == Status.VERIFIED.value)
            & (passes.c.verified_at >= _at(started))
        )
    else:
        verified = literal(False)
    query = (
        select(
            _t.c.company,
            func.count().label("selected"),
            _flag(_t.c.state == _EXCLUDED).label("excluded"),
            _flag(_t.c.state == _QUEUED).label("queued"),
            _flag(_t.c.sends > 0).label("sent"),
            func.coalesce(func.sum(_t.c.sends), 0).label("sms"),
            _flag(_o.c.state.in_(_WAITING)).label("waiting"),
            _flag(_o.c.state == "sent").label("accepted"),
            _flag(_o.c.state == "delivered").label("delivered"),
            _flag(_o.c.state.in_(_FAILED)).label("failed"),
            _flag(_t.c.state == _SKIPPED).label("skipped"),
            _flag(verified).label("verified"),
            _flag((_t.c.state == _SENT) & _t.c.due_at.is_not(None)).label("reminders_due"),
            _flag(_t.c.last_sent_at >= _at(now - RATE_WINDOW)).label("recent"),
            _flag((_t.c.sends > 0) & is_opted_out(persons.c.phone)).label("opted_later"),
        )
        .select_from(
            _t.outerjoin(_o, _o.c.id == _t.c.outbox_id)
            .outerjoin(passes, passes.c.pass_no == _t.c.pass_no)
            .outerjoin(persons, persons.c.id_no == passes.c.id_no)
        )
        .where(_t.c.campaign_id == campaign_id)
        .group_by(_t.c.company)
        .order_by(_t.c.company)
    )
    rows = (await conn.execute(query)).all()
    errors = await _failed_by_error(conn, campaign_id)
    reasons = await _skips(conn, campaign_id)
    tallies = []
    for row in rows:
        company = row.company
        skipped = reasons.get((company, _SKIPPED), {})
        excluded = reasons.get((company, _EXCLUDED), {})
        counts = {k: int(v) for k, v in row._mapping.items() if k != "company"}
        # Skipped as opted out, or texted and opted out since.
        opted_out = (
            skipped.get(SkipReason.OPTED_OUT, 0)
            + excluded.get(SkipReason.OPTED_OUT, 0)
            + counts.pop("opted_later")
        )
        tallies.append(
            Tally(
                company,
                **counts,
                opted_out=opted_out,
                failed_by_error=errors.get(company, {}),
                skipped_by_reason=skipped,
                excluded_by_reason=excluded,
            )
        )
    return tallies


async def _failed_by_error(conn: AsyncConnection, campaign_id: int) -> dict[str, dict[str, int]]:
    code = func.coalesce(_o.c.error_code, "")
    query = (
        select(_t.c.company, code, func.count())
        .select_from(_t.join(_o, _o.c.id == _t.c.outbox_id))
        .where(_t.c.campaign_id == campaign_id, _o.c.state.in_(_FAILED))
        .group_by(_t.c.company, code)
    )
    errors: dict[str, dict[str, int]] = {}
    for company, error, count in await conn.execute(query):
        errors.setdefault(company, {})[error or "unknown"] = int(count)
    return errors


async def _skips(
    conn: AsyncConnection, campaign_id: int
) -> dict[tuple[str, str], dict[SkipReason, int]]:
    query = (
        select(_t.c.company, _t.c.state, _t.c.reason, func.count())
        .where(
            _t.c.campaign_id == campaign_id,
            _t.c.state.in_((_SKIPPED, _EXCLUDED)),
            _t.c.reason.is_not(None),
        )
        .group_by(_t.c.company, _t.c.state, _t.c.reason)
    )
    found: dict[tuple[str, str], dict[SkipReason, int]] = {}
    for company, state, reason, count in await conn.execute(query):
        found.setdefault((company, state), {})[SkipReason(reason)] = int(count)
    return found
