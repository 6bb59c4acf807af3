"""Dispatching a campaign on SQLite and PostgreSQL with a fake clock: one ordinary
request per pass made when its SMS goes, the window, the rate, backpressure, skips when
a pass changed after planning, reminders, and two dispatchers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.campaigns.model import (
    CampaignNotFound,
    CampaignSpec,
    CampaignState,
    CampaignStateConflict,
    SkipReason,
)
from core.campaigns.schedule import Window
from core.model import Channel, Origin, Priority, Requester, RequestState
from core.opt_outs.model import OptOut, OptOutSource
from core.values import IdNumber, PassNumber
from fakes.clock import FakeClock
from storage.outbox.queue import OutboxQueue
from storage.tables import audit_log, campaign_targets, outbox, passes, verification_requests
from tests.conftest import SEALER, Backend
from tests.integration.campaign_builders import Harness, add_holder, harness, phone

# 2026-11-27 10:00 Taipei: inside the default 09:00-21:00 window.
T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
ALWAYS = Window.parse("00:00-24:00")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def h(engine: AsyncEngine, clock: FakeClock) -> Harness:
    return harness(engine, clock)


async def start(h: Harness, spec: CampaignSpec) -> int:
    plan = await h.campaigns.create(spec, dry_run=False)
    assert plan.campaign_id is not None
    await h.campaigns.start(plan.campaign_id)
    return plan.campaign_id


async def run(h: Harness, campaign_id: int, *, step: float, seconds: float) -> list[int]:
    """Dispatch every ``step`` seconds of fake time; SMS sent at each step."""
    sent = []
    for _ in range(round(seconds / step)):
        result = await h.campaigns.dispatch(campaign_id)
        sent.append(result.sent)
        await h.drain()
        h.clock.advance(seconds=step)
    return sent


async def targets(h: Harness, campaign_id: int) -> dict[str, tuple[str, str | None, int]]:
    t = campaign_targets
    query = select(t.c.pass_no, t.c.state, t.c.reason, t.c.sends).where(
        t.c.campaign_id == campaign_id
    )
    async with h.engine.connect() as conn:
        rows = await conn.execute(query)
    return {row.pass_no: (row.state, row.reason, row.sends) for row in rows}


async def test_each_pass_gets_an_ordinary_request_when_its_sms_goes(h: Harness) -> None:
    for n in range(3):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("all", rate=1000))
    assert await h.count(verification_requests) == 0  # nothing handed out at planning
    result = await h.campaigns.dispatch(campaign_id)
    assert (result.sent, result.skipped) == (1, 0)  # one token to start with
    h.clock.advance(seconds=1)
    await h.campaigns.dispatch(campaign_id)
    async with h.engine.connect() as conn:
        requests = (await conn.execute(select(verification_requests))).all()
        sms = (await conn.execute(select(outbox))).all()
    assert sorted(r.pass_no for r in requests) == [f"KHPS113-{n:06d}" for n in range(3)]
    assert {r.origin for r in requests} == {Origin.CAMPAIGN.value}
    assert requests[0].created_at == T0  # made when dispatched, not when planned
    assert {r.expires_at - r.created_at for r in requests} == {timedelta(hours=24)}
    assert {s.kind for s in sms} == {"campaign"}
    assert {s.priority for s in sms} == {Priority.CAMPAIGN}  # after holders and notices
    assert {s.request_id for s in sms} == {r.id for r in requests}
    assert all("驗證碼" in s.body and "/v/" in s.body for s in sms)  # R3: code and link
    assert {p: s[0] for p, s in (await targets(h, campaign_id)).items()} == {
        f"KHPS113-{n:06d}": "sent" for n in range(3)
    }
    assert await h.count(audit_log, audit_log.c.action == "request.campaign") == 3


async def test_a_sent_code_verifies_like_any_other(h: Harness) -> None:
    await add_holder(h.engine, 1)
    campaign_id = await start(h, CampaignSpec("one"))
    await h.campaigns.dispatch(campaign_id)
    async with h.uow() as uow:
        [queued] = await uow.outbox.pending()
    body = OutboxQueue(h.engine, SEALER).readable_body(queued)  # stored sealed
    code = body.split("驗證碼")[1][:6]
    # The holder replies by SMS from the phone the code went to.
    holder = Requester(
        key="sms:+886960000001", channel=Channel.SMS, actor="0960-***-001", phone=phone(1)
    )
    verified = await h.verification.check_code(holder, phone(1), code)
    assert verified.pass_no == PassNumber("KHPS113-000001")


async def test_nothing_is_sent_outside_the_window(h: Harness) -> None:
    await add_holder(h.engine, 1)
    h.clock.current = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)  # 21:30 Taipei
    campaign_id = await start(h, CampaignSpec("daytime", window=Window.parse("09:00-21:00")))
    result = await h.campaigns.dispatch(campaign_id)
    assert result.sent == 0 and result.why == "window"
    assert result.wait_until == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 Taipei
    assert await h.count(outbox) == 0
    h.clock.current = datetime(2026, 11, 28, 0, 59, 59, tzinfo=UTC)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 0
    h.clock.current = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # resumes by itself
    assert (await h.campaigns.dispatch(campaign_id)).sent == 1


async def test_rate_is_kept_and_never_exceeded(h: Harness) -> None:
    for n in range(60):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("paced", rate=5))
    sent = await run(h, campaign_id, step=0.05, seconds=10)
    per_second = [sum(sent[i : i + 20]) for i in range(0, len(sent), 20)]
    assert sum(sent) == 50  # 5/s for 10 s (one token at the start, then 5 a second)
    assert max(per_second) <= 6 and min(per_second) >= 4, per_second


async def test_rate_is_capped_by_sms_max_per_second(engine: AsyncEngine, clock: FakeClock) -> None:
    h = harness(engine, clock, max_per_second=2.0)
    for n in range(40):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("too fast", rate=100))
    sent = await run(h, campaign_id, step=0.1, seconds=10)
    assert sum(sent) == 20


async def test_no_more_than_a_few_seconds_of_sms_wait_in_the_outbox(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    h = harness(engine, clock, lookahead=2.0, min_ahead=5)
    for n in range(100):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("backlog", rate=10))
    for _ in range(100):  # nobody sends: the outbox fills up to 2 s of SMS and stops
        await h.campaigns.dispatch(campaign_id)
        clock.advance(seconds=0.1)
    assert await h.count(outbox) == 20
    result = await h.campaigns.dispatch(campaign_id)
    assert result.why == "backlog"
    await h.drain()  # the provider took them: sending goes on
    clock.advance(seconds=1)
    assert (await h.campaigns.dispatch(campaign_id)).sent > 0


async def test_passes_that_changed_after_planning_are_skipped_with_a_reason(
    h: Harness,
) -> None:
    verified, asked, moved, stop, fine = [await add_holder(h.engine, n) for n in range(5)]
    campaign_id = await start(h, CampaignSpec("changes", rate=1000))
    async with h.uow() as uow:  # texted STOP after the plan was made
        opt_out = OptOut(phone(3), T0, OptOutSource.KEYWORD, "STOP")
        await uow.opt_outs.add(opt_out)
        await uow.commit()
    async with h.engine.begin() as conn:
        await conn.execute(
            update(passes)
            .where(passes.c.pass_no == verified)
            .values(verified_phone=phone(0).e164, verified_at=T0)
        )
    holder = Requester(key="telegram:1", channel=Channel.TELEGRAM, actor="t1")
    await h.verification.request_as_holder(
        holder, PassNumber(asked), IdNumber("ID00000001"), phone(1)
    )
    async with h.engine.begin() as conn:
        await conn.execute(
            update(passes).where(passes.c.pass_no == moved).values(valid_to=date(2026, 1, 6))
        )
    h.clock.advance(seconds=1)
    await run(h, campaign_id, step=0.1, seconds=1)
    assert await targets(h, campaign_id) == {
        verified: ("skipped", SkipReason.VERIFIED.value, 0),
        asked: ("skipped", SkipReason.LIVE_REQUEST.value, 0),
        moved: ("skipped", SkipReason.NOT_VALID.value, 0),
        stop: ("skipped", SkipReason.OPTED_OUT.value, 0),
        fine: ("sent", None, 1),
    }
    assert await h.count(audit_log, audit_log.c.action == "campaign.skip") == 4


async def test_campaign_is_done_when_every_target_had_its_turn(h: Harness) -> None:
    for n in range(3):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("short", rate=1000))
    await run(h, campaign_id, step=0.1, seconds=1)
    assert (await h.campaigns.get(campaign_id)).state is CampaignState.DONE
    assert await h.count(audit_log, audit_log.c.action == "campaign.done") == 1


async def test_pause_resume_cancel(h: Harness) -> None:
    for n in range(5):
        await add_holder(h.engine, n)
    plan = await h.campaigns.create(CampaignSpec("states", rate=1), dry_run=False)
    campaign_id = plan.campaign_id
    assert campaign_id is not None
    assert (await h.campaigns.dispatch(campaign_id)).sent == 0  # planned: nothing yet
    with pytest.raises(CampaignStateConflict):
        await h.campaigns.pause(campaign_id)
    await h.campaigns.start(campaign_id)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 1
    await h.campaigns.pause(campaign_id)
    h.clock.advance(seconds=10)
    assert (await h.campaigns.dispatch(campaign_id)).why == "paused"
    await h.campaigns.resume(campaign_id)
    assert (await h.campaigns.dispatch(campaign_id)).sent >= 1
    await h.campaigns.cancel(campaign_id)
    h.clock.advance(seconds=10)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 0
    with pytest.raises(CampaignStateConflict):
        await h.campaigns.resume(campaign_id)
    with pytest.raises(CampaignNotFound):
        await h.campaigns.start(999)
    actions = ["campaign.start", "campaign.pause", "campaign.resume", "campaign.cancel"]
    async with h.engine.connect() as conn:
        logged = (await conn.execute(select(audit_log.c.action))).scalars().all()
    assert [a for a in logged if a in actions] == actions


async def test_reminder_after_expiry_is_a_new_code(h: Harness) -> None:
    for n in range(3):
        await add_holder(h.engine, n)
    spec = CampaignSpec("remind", rate=1000, remind_after=timedelta(days=3), reminders=1)
    campaign_id = await start(h, spec)
    await run(h, campaign_id, step=0.1, seconds=1)
    async with h.engine.begin() as conn:  # holder 0 verifies in the meantime
        await conn.execute(
            update(passes)
            .where(passes.c.pass_no == "KHPS113-000000")
            .values(verified_phone=phone(0).e164, verified_at=T0 + timedelta(hours=1))
        )
    h.clock.advance(days=2)
    assert (await h.campaigns.dispatch(campaign_id)).why == "reminders"
    assert (await h.campaigns.get(campaign_id)).state is CampaignState.RUNNING
    h.clock.current = T0 + timedelta(days=3, seconds=1)
    await run(h, campaign_id, step=0.1, seconds=1)
    async with h.engine.connect() as conn:
        rows = (await conn.execute(select(verification_requests.c.pass_no))).scalars().all()
    assert sorted(rows) == [
        "KHPS113-000000",
        "KHPS113-000001",
        "KHPS113-000001",
        "KHPS113-000002",
        "KHPS113-000002",
    ]
    assert {p: s[2] for p, s in (await targets(h, campaign_id)).items()} == {
        "KHPS113-000000": 1,
        "KHPS113-000001": 2,
        "KHPS113-000002": 2,
    }
    h.clock.advance(days=10)  # one reminder only
    await run(h, campaign_id, step=0.1, seconds=1)
    assert await h.count(outbox) == 5
    assert (await h.campaigns.get(campaign_id)).state is CampaignState.DONE


async def test_reminder_while_the_code_is_live_waits_for_its_expiry(h: Harness) -> None:
    """R2 allows no second code within 24 h, and the live one cannot be sent again (it
    is kept only as a hash): the reminder goes when the code expires, with a new one."""
    await add_holder(h.engine, 1)
    spec = CampaignSpec(
        "soon", window=ALWAYS, rate=1000, remind_after=timedelta(hours=12), reminders=2
    )
    campaign_id = await start(h, spec)
    await h.campaigns.dispatch(campaign_id)
    h.clock.advance(hours=12)
    result = await h.campaigns.dispatch(campaign_id)
    assert result.sent == 0
    assert await h.count(outbox) == 1 and await h.count(verification_requests) == 1
    assert (await h.campaigns.dispatch(campaign_id)).wait_until == T0 + timedelta(hours=24)
    h.clock.current = T0 + timedelta(hours=24)  # the first code has expired
    assert (await h.campaigns.dispatch(campaign_id)).sent == 1
    assert await h.count(verification_requests) == 2
    assert await h.count(audit_log, audit_log.c.action == "campaign.reminder") == 1
    h.clock.advance(hours=12)  # the second reminder: again a live code, again it waits
    assert (await h.campaigns.dispatch(campaign_id)).sent == 0
    h.clock.advance(hours=12)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 1
    assert await h.count(verification_requests) == 3


async def test_spent_code_delays_the_reminder_until_a_new_one_may_be_asked(
    h: Harness,
) -> None:
    await add_holder(h.engine, 1)
    spec = CampaignSpec(
        "spent", window=ALWAYS, rate=1000, remind_after=timedelta(hours=2), reminders=1
    )
    campaign_id = await start(h, spec)
    await h.campaigns.dispatch(campaign_id)
    async with h.engine.begin() as conn:
        await conn.execute(update(verification_requests).values(state=RequestState.SPENT.value))
    h.clock.advance(hours=2)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 0
    assert (await h.campaigns.dispatch(campaign_id)).wait_until == T0 + timedelta(hours=24)
    h.clock.current = T0 + timedelta(hours=24)
    assert (await h.campaigns.dispatch(campaign_id)).sent == 1
    assert await h.count(verification_requests) == 2


@pytest.mark.parametrize("dispatchers", [2])
async def test_two_dispatchers_send_each_pass_once(
    backend: Backend, engine: AsyncEngine, clock: FakeClock, dispatchers: int
) -> None:
    """Two instances (two engines) dispatching one campaign at once."""
    if backend.name != "postgres":
        pytest.skip("several instances run only on PostgreSQL")
    h = harness(engine, clock)
    for n in range(60):
        await add_holder(h.engine, n)
    campaign_id = await start(h, CampaignSpec("twice", rate=1000))
    others = [backend.engine() for _ in range(dispatchers)]
    try:
        services = [harness(e, clock).campaigns for e in others]

        async def loop(service: object) -> None:
            for _ in range(40):
                await service.dispatch(campaign_id)  # type: ignore[attr-defined]
                await asyncio.sleep(0)

        for _ in range(5):
            await asyncio.gather(*(loop(s) for s in services))
            await h.drain()
            clock.advance(seconds=1)
    finally:
        for e in others:
            await e.dispose()
    async with h.engine.connect() as conn:
        sent = (await conn.execute(select(verification_requests.c.pass_no))).scalars().all()
    assert sorted(sent) == [f"KHPS113-{n:06d}" for n in range(60)]
    assert await h.count(outbox) == 60
