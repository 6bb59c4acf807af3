"""Which passes a campaign selects, and why some get nothing: one ``SELECT`` over
``passes LEFT JOIN persons`` that :class:`storage.campaigns.repository.SqlCampaignRepository`
inserts from (``INSERT … SELECT``) or counts (a dry run).

It filters on the derived status (R7, :func:`storage.status.status_case`) and the
validity dates, and gives each pass a reason in a ``CASE``: no phone on file (R6), opted
out (``sms_opt_outs``), a request that still holds the R2 lock, a phone that is not a
Taiwanese mobile; NULL for a recipient. A pass with several reasons gets the first, in
:data:`core.campaigns.model.PLAN_REASONS` order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, literal, null, or_, select

from core.campaigns.model import (
    TW_MOBILE_LENGTH,
    TW_MOBILE_PREFIX,
    CampaignSpec,
    Selection,
    SkipReason,
)
from core.model import RequestState
from storage.opt_outs import is_opted_out
from storage.status import status_case
from storage.tables import UtcDateTime, passes, persons, verification_requests

_JOINED = passes.outerjoin(persons, persons.c.id_no == passes.c.id_no)


def _at(value: datetime) -> Any:
    """A timestamp parameter typed as the columns are (UTC, naive on SQLite)."""
    return literal(value, UtcDateTime())


def selection(
    spec: CampaignSpec, now: datetime, valid_on: date, code_ttl: timedelta
) -> Select[Any]:
    """``pass_no, company, reason`` of every selected pass; ``reason`` NULL for those
    that will get an SMS. The reasons are checked in :data:`core.campaigns.model.PLAN_REASONS`
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
