"""Which passes a campaign selects and why it skips some (R2, R6, R7, validity dates,
non-Taiwanese phones), on SQLite and PostgreSQL; a dry run stores nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.campaigns.model import CampaignSpec, CampaignState, Selection, SkipReason
from core.campaigns.options import parse_states
from core.model import RequestState, Status
from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from fakes.clock import FakeClock
from storage.tables import audit_log, campaign_targets, campaigns
from tests.integration.campaign_builders import (
    COMPANY,
    OTHER,
    Harness,
    add_holder,
    add_request,
    harness,
    phone,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # 2026-11-27 10:00 Taipei


@pytest.fixture
def h(engine: AsyncEngine, clock: FakeClock) -> Harness:
    return harness(engine, clock)


async def registry(h: Harness) -> dict[str, str]:
    """One pass per rule; returns what each pass should become, by pass number."""
    e, clock = h.engine, h.clock
    expected = {
        await add_holder(e, 1): "recipient",  # unverified, phone on file
        await add_holder(e, 2, phone_on_file=None): "no_phone",  # R6
        await add_holder(e, 3, person=False): "no_phone",  # R6: person record missing
        await add_holder(e, 4, phone_on_file=Phone("+85291234567")): "not_tw_mobile",
        await add_holder(e, 5): "live_request",  # R2: a code asked for an hour ago
        await add_holder(e, 6, verified_phone=phone(6)): "not selected",  # verified (R7)
        await add_holder(e, 7, verified_phone=phone(99)): "recipient",  # pending (R7)
        await add_holder(e, 8, valid_to=date(2026, 11, 26)): "not selected",  # expired
        await add_holder(e, 9, valid_from=date(2026, 11, 28)): "not selected",  # not yet
        await add_holder(e, 10, company=OTHER): "recipient",
        await add_holder(e, 11): "recipient",  # its code was never sent: released
        await add_holder(e, 12): "recipient",  # its code expired yesterday
        await add_holder(e, 13, valid_to=date(2026, 11, 27)): "recipient",  # last valid day
        await add_holder(e, 14): "opted_out",  # texted STOP
    }
    async with h.uow() as uow:
        await uow.opt_outs.add(OptOut(phone(14), clock.now(), OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    await add_request(e, 5, clock, age=timedelta(hours=1))
    await add_request(e, 11, clock, age=timedelta(hours=1), state=RequestState.RELEASED)
    await add_request(e, 12, clock, age=timedelta(hours=24))
    return expected


async def stored_targets(h: Harness, campaign_id: int) -> dict[str, str]:
    query = select(campaign_targets.c.pass_no, campaign_targets.c.reason).where(
        campaign_targets.c.campaign_id == campaign_id
    )
    async with h.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {pass_no: reason or "recipient" for pass_no, reason in rows}


async def test_selection_follows_every_rule(h: Harness) -> None:
    expected = await registry(h)
    plan = await h.campaigns.create(CampaignSpec("all holders"), dry_run=False)
    assert plan.campaign_id is not None
    wanted = {p: why for p, why in expected.items() if why != "not selected"}
    assert await stored_targets(h, plan.campaign_id) == wanted
    assert plan.recipients == 6
    assert plan.skipped(SkipReason.NO_PHONE) == 2
    assert plan.skipped(SkipReason.NOT_TW_MOBILE) == 1
    assert plan.skipped(SkipReason.LIVE_REQUEST) == 1
    assert plan.skipped(SkipReason.OPTED_OUT) == 1
    assert {row.company: row.recipients for row in plan.rows} == {COMPANY: 5, OTHER: 1}
    campaign = await h.campaigns.get(plan.campaign_id)
    assert campaign.state is CampaignState.PLANNED
    assert campaign.valid_on == date(2026, 11, 27)


async def test_dry_run_stores_nothing_and_counts_the_same(h: Harness) -> None:
    await registry(h)
    before = [await h.count(t) for t in (campaigns, campaign_targets, audit_log)]
    dry = await h.campaigns.create(CampaignSpec("look first"), dry_run=True)
    assert dry.campaign_id is None
    assert [await h.count(t) for t in (campaigns, campaign_targets, audit_log)] == before
    real = await h.campaigns.create(CampaignSpec("look first"), dry_run=False)
    assert dry.rows == real.rows
    assert await h.count(audit_log, audit_log.c.action == "campaign.create") == 1


async def test_company_prefix_and_state_narrow_the_selection(h: Harness) -> None:
    expected = await registry(h)
    await add_holder(h.engine, 20, prefix="TCPS113")
    spec = CampaignSpec(
        "pending only",
        Selection(companies=(COMPANY,), states=parse_states("pending")),
    )
    plan = await h.campaigns.create(spec, dry_run=False)
    assert plan.campaign_id is not None
    assert await stored_targets(h, plan.campaign_id) == {"KHPS113-000007": "recipient"}

    spec = CampaignSpec("by prefix", Selection(pass_prefixes=("TCPS",)))
    plan = await h.campaigns.create(spec, dry_run=True)
    assert plan.recipients == 1 and plan.rows[0].company == COMPANY

    spec = CampaignSpec("other company", Selection(companies=(OTHER,)))
    plan = await h.campaigns.create(spec, dry_run=True)
    assert [(r.company, r.recipients) for r in plan.rows] == [(OTHER, 1)]
    assert expected  # the registry is there: an empty plan would prove nothing


async def test_verified_passes_are_never_selected(h: Harness) -> None:
    await add_holder(h.engine, 1, verified_phone=phone(1))
    spec = CampaignSpec("x", Selection(states=(Status.UNVERIFIED, Status.PENDING)))
    plan = await h.campaigns.create(spec, dry_run=True)
    assert plan.recipients == 0 and plan.rows == ()


async def test_plan_cost_counts_segments(h: Harness) -> None:
    await registry(h)
    plan = await h.campaigns.create(
        CampaignSpec("cost", remind_after=timedelta(days=3), reminders=2), dry_run=True
    )
    assert plan.segments == 6
    assert plan.price == pytest.approx(0.30)
    assert plan.reminder_price_max == pytest.approx(0.60)


async def test_the_plan_is_shown_before_it_is_stored(h: Harness) -> None:
    """If the plan cannot be shown (the admin's terminal went away), nothing is stored."""
    await registry(h)
    shown: list[int] = []

    def show(plan: object) -> None:
        shown.append(1)
        raise BrokenPipeError

    with pytest.raises(BrokenPipeError):
        await h.campaigns.create(CampaignSpec("unseen"), dry_run=False, show=show)
    assert shown == [1]
    assert [await h.count(t) for t in (campaigns, campaign_targets)] == [0, 0]
