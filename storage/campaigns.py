"""Campaigns and their targets in SQL: :class:`core.campaign_service.CampaignRepository`.

The selection is one ``INSERT … SELECT`` over ``passes LEFT JOIN persons``: the status
filter (R7, :func:`storage.status.status_case`), the validity dates, and a ``CASE``
that gives each pass its skip reason (no phone, not a Taiwanese mobile, a request that
still holds the R2 lock). A 100,000-pass campaign is never a Python loop.

Claims lock rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (the campaign's row, then
its due targets), so two serve instances never dispatch the same target; SQLite's units
of work take the write lock with ``BEGIN IMMEDIATE`` (:mod:`storage.db`) and take turns.
"""

from __future__ import annotations

import builtins
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
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

from core.campaign_progress import RATE_WINDOW, Tally
from core.campaigns import (
    SMS_KIND,
    TW_MOBILE_LENGTH,
    TW_MOBILE_PREFIX,
    Campaign,
    CampaignSpec,
    CampaignState,
    Selection,
    SkipReason,
    Target,
    TargetState,
    Window,
)
from core.model import RequestState, Status
from storage.opt_outs import is_opted_out
from storage.status import status_case
from storage.tables import (
    UtcDateTime,
    campaign_targets,
    campaigns,
    outbox,
    passes,
    persons,
    verification_requests,
)

_c, _t, _o = campaigns, campaign_targets, outbox
_JOINED = passes.outerjoin(persons, persons.c.id_no == passes.c.id_no)
_EXCLUDED, _QUEUED = TargetState.EXCLUDED.value, TargetState.QUEUED.value
_SENT, _SKIPPED = TargetState.SENT.value, TargetState.SKIPPED.value
_WAITING = ("pending", "sending")
_FAILED = ("failed", "undelivered")


def _at(value: datetime) -> Any:
    """A timestamp parameter typed as the columns are (UTC, naive on SQLite)."""
    return literal(value, UtcDateTime())


def _selection(
    spec: CampaignSpec, now: datetime, valid_on: date, code_ttl: timedelta
) -> Select[Any]:
    """``pass_no, company, reason`` of every selected pass; ``reason`` NULL for those
    that will get an SMS. The reasons are checked in :data:`core.campaigns.PLAN_REASONS`
    order, so a pass with several gets the first."""
    chosen: Selection = spec.selection
    phone = persons.c.phone
    r = verification_requests
    # R2: a request for this pass + ID + phone within the code's validity, in any state
    # but released, still holds the lock (storage.requests' _LATEST_FOR says the same).
    live = (
        select(literal(1))
        .where(
            r.c.pass_no == passes.c.pass_no,
            r.c.id_no == passes.c.id_no,
            r.c.phone == phone,
            r.c.created_at > _at(now - code_ttl),
            r.c.state != RequestState.RELEASED.value,
        )
        .exists()
    )
    tw_mobile = phone.like(f"{TW_MOBILE_PREFIX}%") & (func.length(phone) == TW_MOBILE_LENGTH)
    reason = case(
        (phone.is_(None), SkipReason.NO_PHONE.value),
        (is_opted_out(phone), SkipReason.OPTED_OUT.value),
        (live, SkipReason.LIVE_REQUEST.value),
        (~tw_mobile, SkipReason.NOT_TW_MOBILE.value),
        else_=null(),
    )
    query = (
        select(passes.c.pass_no, passes.c.company, reason.label("reason"))
        .select_from(_JOINED)
        .where(
            status_case().in_([s.value for s in chosen.states]),
            passes.c.valid_from <= valid_on,
            passes.c.valid_to >= valid_on,
        )
    )
    if chosen.companies:
        query = query.where(passes.c.company.in_(chosen.companies))
    if chosen.pass_prefixes:
        query = query.where(
            or_(*(passes.c.pass_no.startswith(p, autoescape=True) for p in chosen.pass_prefixes))
        )
    return query


def _counts(rows: Any) -> list[tuple[str, SkipReason | None, int]]:
    return [
        (company, SkipReason(reason) if reason is not None else None, int(count))
        for company, reason, count in rows
    ]


def _campaign(row: Any) -> Campaign:
    selection = json.loads(row.selection)
    remind = row.remind_after_seconds
    spec = CampaignSpec(
        name=row.name,
        selection=Selection(
            companies=tuple(selection.get("companies", ())),
            states=tuple(Status(s) for s in selection.get("states", ())),
            pass_prefixes=tuple(selection.get("pass_prefixes", ())),
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


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class SqlCampaignRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # --- planning --------------------------------------------------------------------

    async def create(
        self, spec: CampaignSpec, *, now: datetime, valid_on: date, code_ttl: timedelta
    ) -> int:
        selection = {
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
                selection=json.dumps(selection, ensure_ascii=False),
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
        chosen = _selection(spec, now, valid_on, code_ttl).subquery()
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
        chosen = _selection(spec, now, valid_on, code_ttl).subquery()
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
        query = select(_c).where(_c.c.id == campaign_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return _campaign(row) if row is not None else None

    async def lock_for_dispatch(self, campaign_id: int) -> Campaign | None:
        query = select(_c).where(_c.c.id == campaign_id).with_for_update(skip_locked=True)
        row = (await self._conn.execute(query)).first()
        return _campaign(row) if row is not None else None

    async def summaries(self) -> builtins.list[tuple[Campaign, int, int]]:
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

    async def running(self) -> builtins.list[int]:
        query = select(_c.c.id).where(_c.c.state == CampaignState.RUNNING.value).order_by(_c.c.id)
        return [int(i) for i in (await self._conn.execute(query)).scalars()]

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

    async def claim_due(self, campaign_id: int, now: datetime, limit: int) -> builtins.list[Target]:
        query = (
            select(_t.c.pass_no, _t.c.sends, _t.c.request_id)
            .where(_t.c.campaign_id == campaign_id, _t.c.due_at <= now)
            .order_by(_t.c.due_at, _t.c.pass_no)
            .limit(limit)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
        )
        rows = await self._conn.execute(query)
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

    def _target(self, campaign_id: int, pass_no: str) -> Any:
        return update(_t).where(_t.c.campaign_id == campaign_id, _t.c.pass_no == pass_no)

    async def mark_sent(
        self,
        campaign_id: int,
        pass_no: str,
        request_id: str,
        now: datetime,
        due_at: datetime | None,
    ) -> None:
        latest_sms = select(func.max(_o.c.id)).where(_o.c.request_id == request_id)
        await self._conn.execute(
            self._target(campaign_id, pass_no).values(
                state=_SENT,
                reason=None,
                request_id=request_id,
                outbox_id=latest_sms.scalar_subquery(),
                sends=_t.c.sends + 1,
                first_sent_at=func.coalesce(_t.c.first_sent_at, _at(now)),
                last_sent_at=now,
                due_at=due_at,
            )
        )

    async def mark_skipped(
        self, campaign_id: int, pass_no: str, reason: SkipReason, now: datetime
    ) -> None:
        await self._conn.execute(
            self._target(campaign_id, pass_no).values(
                state=_SKIPPED, reason=reason.value, due_at=None
            )
        )

    async def set_due(self, campaign_id: int, pass_no: str, due_at: datetime | None) -> None:
        await self._conn.execute(self._target(campaign_id, pass_no).values(due_at=due_at))

    # --- the outbox, as the campaign sees it -------------------------------------------

    async def backlog(self, now: datetime) -> int:
        query = select(func.count()).where(
            _o.c.kind == SMS_KIND,
            or_(
                _o.c.state == "sending",
                (_o.c.state == "pending") & (_o.c.next_attempt_at <= now),
            ),
        )
        return int((await self._conn.execute(query)).scalar_one())

    # --- progress --------------------------------------------------------------------

    async def tally(self, campaign_id: int, now: datetime) -> builtins.list[Tally]:
        started = (
            await self._conn.execute(select(_c.c.started_at).where(_c.c.id == campaign_id))
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
        rows = (await self._conn.execute(query)).all()
        errors = await self._failed_by_error(campaign_id)
        reasons = await self._skips(campaign_id)
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

    async def _failed_by_error(self, campaign_id: int) -> dict[str, dict[str, int]]:
        code = func.coalesce(_o.c.error_code, "")
        query = (
            select(_t.c.company, code, func.count())
            .select_from(_t.join(_o, _o.c.id == _t.c.outbox_id))
            .where(_t.c.campaign_id == campaign_id, _o.c.state.in_(_FAILED))
            .group_by(_t.c.company, code)
        )
        errors: dict[str, dict[str, int]] = {}
        for company, error, count in await self._conn.execute(query):
            errors.setdefault(company, {})[error or "unknown"] = int(count)
        return errors

    async def _skips(self, campaign_id: int) -> dict[tuple[str, str], dict[SkipReason, int]]:
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
        for company, state, reason, count in await self._conn.execute(query):
            found.setdefault((company, state), {})[SkipReason(reason)] = int(count)
        return found
