"""Campaigns and their targets in SQL: :class:`core.campaigns.ports.CampaignRepository`.

A campaign's targets are stored with one ``INSERT … SELECT`` of
:func:`storage.campaigns.selection.selection`: a 100,000-pass campaign is never a Python
loop. Its progress is counted in :mod:`storage.campaigns.tally`.

Claims lock rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the campaign's row, then
its due targets), so two serve instances never dispatch the same target; SQLite's units
of work take the write lock with ``BEGIN IMMEDIATE`` (:mod:`storage.db`) and take turns.

Why one module: it is the one repository of the campaign port, and the dispatcher's
statements (built once, at the top) sit next to the methods that run them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from core.campaigns.model import (
    SMS_KIND,
    Campaign,
    CampaignSpec,
    CampaignState,
    Selection,
    SkipReason,
    Target,
    TargetState,
)
from core.campaigns.progress import Tally
from core.campaigns.schedule import Window
from core.model import Status
from storage.campaigns.selection import selection
from storage.campaigns.tally import tally
from storage.tables import UtcDateTime, campaign_targets, campaigns, outbox

_c, _t, _o = campaigns, campaign_targets, outbox
_EXCLUDED, _QUEUED = TargetState.EXCLUDED.value, TargetState.QUEUED.value
_SENT, _SKIPPED = TargetState.SENT.value, TargetState.SKIPPED.value


def _at(value: datetime) -> Any:
    """A timestamp parameter typed as the columns are (UTC, naive on SQLite)."""
    return literal(value, UtcDateTime())


def _counts(rows: Any) -> list[tuple[str, SkipReason | None, int]]:
    return [
        (company, SkipReason(reason) if reason is not None else None, int(count))
        for company, reason, count in rows
    ]


def _campaign(row: Any) -> Campaign:
    chosen = json.loads(row.selection)
    remind = row.remind_after_seconds
    spec = CampaignSpec(
        name=row.name,
        selection=Selection(
            companies=tuple(chosen.get("companies", ())),
            states=tuple(Status(s) for s in chosen.get("states", ())),
            pass_prefixes=tuple(chosen.get("pass_prefixes", ())),
        ),
        window=Window(row.window_start, row.window_end),
        rate=float(row.rate),
        remind_after=timedelta(seconds=remind) if remind is not None else None,
        reminders=row.reminders,
    )
    return Campaign(
        id=row.id,
        spec=spec,
        state=CampaignState(row.state),
        valid_on=row.valid_on,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        paced_until=row.paced_until,
    )


# The dispatcher's statements, run for every target at up to hundreds a second: built
# once, with bind parameters, so SQLAlchemy reuses their cache keys and compiled SQL.
# In an UPDATE a parameter named like a column sets it: rows are matched by "match_…".
_GET = select(_c).where(_c.c.id == bindparam("campaign_id"))
_GET_LOCKED = _GET.with_for_update()
_RUNNING = select(_c.c.id).where(_c.c.state == CampaignState.RUNNING.value).order_by(_c.c.id)
_PACE = (
    update(_c)
    .where(_c.c.id == bindparam("match_campaign"))
    .values(paced_until=bindparam("paced"), updated_at=bindparam("at"))
)
_CLAIM_DUE = (
    select(_t.c.pass_no, _t.c.sends, _t.c.request_id)
    .where(_t.c.campaign_id == bindparam("campaign_id"), _t.c.due_at <= bindparam("now"))
    .order_by(_t.c.due_at, _t.c.pass_no)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
)
_TARGET = update(_t).where(
    _t.c.campaign_id == bindparam("match_campaign"), _t.c.pass_no == bindparam("match_pass")
)
_MARK_SENT = _TARGET.values(
    state=_SENT,
    reason=None,
    request_id=bindparam("sent_request"),
    # Its newest SMS: the one just queued in this transaction.
    outbox_id=select(func.max(_o.c.id))
    .where(_o.c.request_id == bindparam("sms_request"))
    .scalar_subquery(),
    sends=_t.c.sends + 1,
    first_sent_at=func.coalesce(_t.c.first_sent_at, bindparam("first", type_=UtcDateTime())),
    last_sent_at=bindparam("last"),
    due_at=bindparam("due"),
)
_MARK_SKIPPED = _TARGET.values(state=_SKIPPED, reason=bindparam("why"), due_at=None)
_SET_DUE = _TARGET.values(due_at=bindparam("due"))
_BACKLOG = select(func.count()).where(
    _o.c.kind == SMS_KIND,
    or_(
        _o.c.state == "sending",
        (_o.c.state == "pending") & (_o.c.next_attempt_at <= bindparam("now")),
    ),
)
# The campaign and the backlog together: the outbox rows are counted, not locked
# (PostgreSQL locks only the rows of the FROM clause: the campaign's).
_LOCK_FOR_DISPATCH = (
    select(_c, _BACKLOG.scalar_subquery().label("backlog"))
    .where(_c.c.id == bindparam("campaign_id"))
    .with_for_update(skip_locked=True)
)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class SqlCampaignRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # --- planning --------------------------------------------------------------------

    async def create(
        self, spec: CampaignSpec, *, now: datetime, valid_on: date, code_ttl: timedelta
    ) -> int:
        chosen_json = {
            "companies": list(spec.selection.companies),
            "states": [s.value for s in spec.selection.states],
            "pass_prefixes": list(spec.selection.pass_prefixes),
        }
        remind = spec.remind_after
        row = await self._conn.execute(
            insert(_c)
            .values(
                name=spec.name,
                state=CampaignState.PLANNED.value,
                selection=json.dumps(chosen_json, ensure_ascii=False),
                window_start=spec.window.start,
                window_end=spec.window.end,
                rate=spec.rate,
                remind_after_seconds=int(remind.total_seconds()) if remind else None,
                reminders=spec.reminders,
                valid_on=valid_on,
                created_at=now,
                updated_at=now,
            )
            .returning(_c.c.id)
        )
        campaign_id = int(row.scalar_one())
        chosen = selection(spec, now, valid_on, code_ttl).subquery()
        recipient = chosen.c.reason.is_(None)
        await self._conn.execute(
            insert(_t).from_select(
                ["campaign_id", "pass_no", "company", "state", "reason", "due_at", "sends"],
                select(
                    literal(campaign_id),
                    chosen.c.pass_no,
                    chosen.c.company,
                    case((recipient, _QUEUED), else_=_EXCLUDED),
                    chosen.c.reason,
                    case((recipient, _at(now)), else_=null()),
                    literal(0),
                ),
            )
        )
        return campaign_id

    async def preview(
        self, spec: CampaignSpec, *, now: datetime, valid_on: date, code_ttl: timedelta
    ) -> list[tuple[str, SkipReason | None, int]]:
        chosen = selection(spec, now, valid_on, code_ttl).subquery()
        query = select(chosen.c.company, chosen.c.reason, func.count()).group_by(
            chosen.c.company, chosen.c.reason
        )
        return _counts(await self._conn.execute(query))

    async def plan_counts(self, campaign_id: int) -> list[tuple[str, SkipReason | None, int]]:
        reason = case((_t.c.state == _EXCLUDED, _t.c.reason), else_=null())
        query = (
            select(_t.c.company, reason, func.count())
            .where(_t.c.campaign_id == campaign_id)
            .group_by(_t.c.company, reason)
        )
        return _counts(await self._conn.execute(query))

    # --- campaigns -------------------------------------------------------------------

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        query = _GET_LOCKED if lock else _GET
        row = (await self._conn.execute(query, {"campaign_id": campaign_id})).first()
        return _campaign(row) if row is not None else None

    async def lock_for_dispatch(
        self, campaign_id: int, now: datetime
    ) -> tuple[Campaign, int] | None:
        params = {"campaign_id": campaign_id, "now": now}
        row = (await self._conn.execute(_LOCK_FOR_DISPATCH, params)).first()
        return (_campaign(row), int(row.backlog)) if row is not None else None

    async def summaries(self) -> list[tuple[Campaign, int, int]]:
        counts = (
            select(
                _t.c.campaign_id,
                _flag(_t.c.state != _EXCLUDED).label("targeted"),
                _flag(_t.c.sends > 0).label("sent"),
            )
            .group_by(_t.c.campaign_id)
            .subquery()
        )
        query = (
            select(_c, counts.c.targeted, counts.c.sent)
            .select_from(_c.outerjoin(counts, counts.c.campaign_id == _c.c.id))
            .order_by(_c.c.id.desc())
        )
        rows = await self._conn.execute(query)
        return [(_campaign(row), int(row.targeted or 0), int(row.sent or 0)) for row in rows]

    async def running(self) -> list[int]:
        return [int(i) for i in (await self._conn.execute(_RUNNING)).scalars()]

    async def update(
        self,
        campaign_id: int,
        now: datetime,
        *,
        state: CampaignState | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        paced_until: datetime | None = None,
    ) -> None:
        if state is None and started_at is None and finished_at is None and paced_until:
            params = {"match_campaign": campaign_id, "paced": paced_until, "at": now}
            await self._conn.execute(_PACE, params)  # after every batch: the hot path
            return
        values: dict[str, Any] = {"updated_at": now}
        if state is not None:
            values["state"] = state.value
        if started_at is not None:
            values["started_at"] = started_at
        if finished_at is not None:
            values["finished_at"] = finished_at
        if paced_until is not None:
            values["paced_until"] = paced_until
        await self._conn.execute(update(_c).where(_c.c.id == campaign_id).values(**values))

    # --- targets ---------------------------------------------------------------------

    async def claim_due(self, campaign_id: int, now: datetime, limit: int) -> list[Target]:
        params = {"campaign_id": campaign_id, "now": now, "limit": limit}
        rows = await self._conn.execute(_CLAIM_DUE, params)
        return [Target(row.pass_no, row.sends, row.request_id) for row in rows]

    async def next_due(self, campaign_id: int) -> datetime | None:
        query = select(func.min(_t.c.due_at)).where(_t.c.campaign_id == campaign_id)
        value = (await self._conn.execute(query)).scalar_one()
        # min() loses the column type on SQLite: the driver hands back text there.
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]

    async def mark_sent(
        self,
        campaign_id: int,
        pass_no: str,
        request_id: str,
        now: datetime,
        due_at: datetime | None,
    ) -> None:
        params = {
            "match_campaign": campaign_id,
            "match_pass": pass_no,
            "sent_request": request_id,
            "sms_request": request_id,
            "first": now,
            "last": now,
            "due": due_at,
        }
        await self._conn.execute(_MARK_SENT, params)

    async def mark_skipped(
        self, campaign_id: int, pass_no: str, reason: SkipReason, now: datetime
    ) -> None:
        params = {"match_campaign": campaign_id, "match_pass": pass_no, "why": reason.value}
        await self._conn.execute(_MARK_SKIPPED, params)

    async def set_due(self, campaign_id: int, pass_no: str, due_at: datetime | None) -> None:
        params = {"match_campaign": campaign_id, "match_pass": pass_no, "due": due_at}
        await self._conn.execute(_SET_DUE, params)

    # --- the outbox, as the campaign sees it -------------------------------------------

    async def backlog(self, now: datetime) -> int:
        return int((await self._conn.execute(_BACKLOG, {"now": now})).scalar_one())

    async def tally(self, campaign_id: int, now: datetime) -> list[Tally]:
        return await tally(self._conn, campaign_id, now)
