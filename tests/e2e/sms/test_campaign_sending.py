"""A campaign sent by the app's own dispatcher and outbox worker, with the real
``twilio`` client against FakeTwilio over real HTTP, on the demo registry."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.campaigns.dispatcher import CampaignTuning
from bot.config import Config, load_config
from bot.providers.twilio_sender import TwilioSender
from bot.services import Services
from bot.sms.outbox_worker import OutboxTuning
from core.campaigns.model import CampaignSpec, CampaignState, Selection
from core.campaigns.schedule import Window
from core.clock import SystemClock
from core.model import Channel, Requester
from core.values import IdNumber, PassNumber, Phone
from fakes.clock import FakeClock
from fakes.twilio_api import FakeTwilio, Fault
from storage.tables import campaign_targets, outbox, passes, persons, verification_requests
from tests.e2e.conftest import TWILIO_SID, TWILIO_TOKEN, AppClient, services_of

MakeClient = Callable[..., Awaitable[AppClient]]
FAST = OutboxTuning(poll_interval=0.02, lease=3600.0, stop_grace=0.5)
DISPATCH = CampaignTuning(poll_interval=0.02)
# The demo registry: 12 passes not verified and valid, one without a phone (R6).
DEMO_RECIPIENTS = 11


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as server:
        yield server


@pytest.fixture
def twilio_config(config_env: dict[str, str], tmp_path: Path, fake: FakeTwilio) -> Config:
    env = {
        **config_env,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
        "PORTPASS_TWILIO_API_BASE_URL": fake.url,
        "PORTPASS_SMS_MAX_PER_SECOND": "200",
    }
    return load_config(None, env, cwd=tmp_path)


def sender(config: Config) -> TwilioSender:
    return TwilioSender(
        config.twilio.account_sid,
        config.twilio.auth_token.reveal(),
        from_number=config.twilio.from_number,
        status_callback_url=f"{config.server.public_base_url}/sms/status",
        api_base_url=config.twilio.api_base_url,
        timeout=2.0,
    )


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling what a fake server records
            await asyncio.sleep(0.01)


async def start_campaign(services: Services, spec: CampaignSpec) -> int:
    plan = await services.campaigns.create(spec, dry_run=False)
    assert plan.campaign_id is not None and plan.recipients == DEMO_RECIPIENTS
    await services.campaigns.start(plan.campaign_id)
    return plan.campaign_id


async def test_serve_sends_each_pass_one_campaign_sms(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    client = await make_client(
        twilio_config,
        clock=SystemClock(),
        sender=sender(twilio_config),
        outbox=FAST,
        campaigns=DISPATCH,
    )
    services = services_of(client)
    spec = CampaignSpec("demo", window=Window.parse("00:00-24:00"), rate=50)
    campaign_id = await start_campaign(services, spec)

    await until(lambda: len(fake.messages) >= DEMO_RECIPIENTS)
    async with asyncio.timeout(5):
        while (await services.campaigns.get(campaign_id)).state is not CampaignState.DONE:  # noqa: ASYNC110 - the state is in the database
            await asyncio.sleep(0.02)

    per_phone = Counter(m["to"] for m in fake.messages)
    assert len(fake.messages) == DEMO_RECIPIENTS
    async with services.engine.connect() as conn:
        requests = (await conn.execute(select(verification_requests))).all()
        targets = (
            await conn.execute(select(campaign_targets).where(campaign_targets.c.sends > 0))
        ).all()
    assert len(requests) == len(targets) == DEMO_RECIPIENTS
    # Each SMS carries its own pass's last four digits and a code (R3, R9).
    found = [re.search(r"末四碼(\d{4})，驗證碼\d{6}", m["body"]) for m in fake.messages]
    sent_last4 = sorted(match[1] for match in found if match)
    assert sent_last4 == sorted(r.pass_no[-4:] for r in requests)
    assert sum(per_phone.values()) == DEMO_RECIPIENTS


async def test_outside_the_window_serve_waits_and_resumes_by_itself(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)  # 21:30 Taipei
    client = await make_client(
        twilio_config, sender=sender(twilio_config), outbox=FAST, campaigns=DISPATCH
    )
    services = services_of(client)
    await start_campaign(services, CampaignSpec("daytime", rate=100))
    await asyncio.sleep(0.3)  # fifteen dispatcher polls
    assert fake.messages == []

    clock.current = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 Taipei, next day
    await until(lambda: len(fake.messages) >= 1)
    for _ in range(20):  # time moves on: the rest follows at the campaign's rate
        clock.advance(seconds=0.1)
        await asyncio.sleep(0.02)
    await until(lambda: len(fake.messages) >= DEMO_RECIPIENTS)
    assert len({m["to"] for m in fake.messages}) <= DEMO_RECIPIENTS


async def add_bench_passes(services: Services, count: int) -> None:
    """``count`` holders of their own (pass ``BNPS113-…``), valid and unverified."""
    now = datetime.now(UTC)
    people = [
        {
            "id_no": f"BN{n:08d}",
            "name": f"holder{n}",
            "phone": f"+8869{70000000 + n:08d}",
            "updated_at": now,
        }
        for n in range(count)
    ]
    cards = [
        {
            "pass_no": f"BNPS113-{n:06d}",
            "id_no": f"BN{n:08d}",
            "company": "bench",
            "valid_from": date(2020, 1, 1),
            "valid_to": date(2099, 12, 31),
            "updated_at": now,
        }
        for n in range(count)
    ]
    async with services.engine.begin() as conn:
        await conn.execute(insert(persons), people)
        await conn.execute(insert(passes), cards)


async def test_a_holders_own_code_overtakes_the_campaign_queue(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path, fake: FakeTwilio
) -> None:
    """The outbox claims priority 0 (a holder waiting) before priority 2 (campaign):
    the code goes out behind at most the campaign SMS already being sent, not behind
    the few seconds of campaign SMS waiting in the outbox."""
    env = {
        **config_env,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
        "PORTPASS_TWILIO_API_BASE_URL": fake.url,
        "PORTPASS_SMS_MAX_PER_SECOND": "20",
    }
    config = load_config(None, env, cwd=tmp_path)
    in_flight = 3
    client = await make_client(
        config,
        clock=SystemClock(),
        sender=sender(config),
        outbox=OutboxTuning(
            poll_interval=0.02, lease=3600.0, stop_grace=0.5, max_in_flight=in_flight
        ),
        campaigns=DISPATCH,
    )
    services = services_of(client)
    await add_bench_passes(services, 200)
    spec = CampaignSpec(
        "bench", Selection(pass_prefixes=("BNPS",)), window=Window.parse("00:00-24:00"), rate=20
    )
    plan = await services.campaigns.create(spec, dry_run=False)
    assert plan.campaign_id is not None and plan.recipients == 200
    await services.campaigns.start(plan.campaign_id)
    await until(lambda: len(fake.messages) >= 10)  # the campaign is in full swing
    # Twilio slows down for a second: the sends under way hang, and the dispatcher
    # queues its lookahead of campaign SMS behind them.
    fake.fail_next(*[Fault.timeout(1.0, then_send=True)] * in_flight)
    async with asyncio.timeout(5):
        while await pending_campaign_sms(services) < 10:  # noqa: ASYNC110 - database state
            await asyncio.sleep(0.01)

    before = len(fake.messages)
    requester = Requester(key="sms:+886960123411", channel=Channel.SMS, actor="sms:0960-***-411")
    await services.verification.request_as_holder(
        requester,
        PassNumber.parse("KHPS113-000040"),
        IdNumber.parse("QQ12345671"),
        Phone.parse("0960123411"),
    )
    queued_ahead = await pending_campaign_sms(services)
    await until(lambda: any(m["to"] == "+886960123411" for m in fake.messages[before:]))
    after = [m["to"] for m in fake.messages[before:]]
    # Behind the sends that were already under way, ahead of every waiting one.
    assert after.index("+886960123411") <= in_flight < queued_ahead, (after, queued_ahead)


async def pending_campaign_sms(services: Services) -> int:
    query = select(func.count()).where(outbox.c.kind == "campaign", outbox.c.state == "pending")
    async with services.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())
