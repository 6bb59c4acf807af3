"""``GET /metrics`` over real HTTP: off by default, readable only from an allowed address
or with the bearer token, in the Prometheus text format; counters that move when a
holder really texts, chats on Telegram or opens the link, and when the outbox worker
really sends through the official Twilio client; gauges read from the database; and
nothing personal or secret in it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from twilio.request_validator import RequestValidator

from bot.config import Config, load_config
from bot.providers.twilio_sender import TwilioSender
from bot.sms.outbox_worker import OutboxTuning
from core.campaigns.model import CampaignSpec
from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.twilio_api import FakeTwilio, Fault
from storage.tables import outbox
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_SID, TWILIO_TOKEN, AppClient, services_of
from tests.e2e.sms.test_sms_inbound import Handset, last_code
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    PHONE,
    WEBHOOK_SECRET,
    TelegramUser,
    latest_code,
    latest_link_token,
    post_update,
    telegram_env,
)
from tests.e2e.web.test_link_page import form_tag, issue_link

MakeClient = Callable[..., Awaitable[AppClient]]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

METRICS_TOKEN = "metrics-token-for-the-e2e-tests-0123456789"
HOLDER_E164 = "+886960123411"


class Scrape:
    """One scrape, parsed by prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = list(text_string_to_metric_families(text))
        self.samples: Samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in self.families
            for s in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist (yet)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def label_values(self) -> set[str]:
        return {value for (_, labels) in self.samples for _, value in labels}


async def scrape(client: AppClient, **headers: str) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(await response.text())


def with_metrics(env: dict[str, str], tmp_path: Path, **more: str) -> Config:
    return load_config(None, {**env, "PORTPASS_METRICS_ENABLED": "true", **more}, cwd=tmp_path)


# --- who may read it ---------------------------------------------------------------------


async def test_metrics_are_off_by_default(client: AppClient) -> None:
    response = await client.get("/metrics")
    assert response.status == 404


async def test_from_an_allowed_address_the_prometheus_text_format_is_served(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))  # allow: 127.0.0.1, ::1

    result = await scrape(client)

    names = {family.name for family in result.families}
    assert {
        "portpass_inbound_messages",
        "portpass_verifications",
        "portpass_codes_sent",
        "portpass_sms_sends",
        "portpass_http_request_duration_seconds",
        "portpass_outbox_queued",
        "portpass_outbox_oldest_pending_age_seconds",
        "portpass_database_up",
        "process_start_time_seconds",
    } <= names
    assert result.value("portpass_database_up") == 1
    assert result.value("portpass_verifications_total", channel="sms") == 0  # there from start


async def test_from_another_address_without_a_token_it_is_refused(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    config = with_metrics(config_env, tmp_path, PORTPASS_METRICS_ALLOW="10.0.0.0/8,fd00::/8")
    client = await make_client(config)
    response = await client.get("/metrics")  # from 127.0.0.1
    assert response.status == 403
    assert "portpass_" not in await response.text()


async def test_the_right_bearer_token_reads_from_anywhere_and_a_wrong_one_from_nowhere(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    config = with_metrics(
        config_env,
        tmp_path,
        PORTPASS_METRICS_ALLOW="10.0.0.0/8",
        PORTPASS_METRICS_TOKEN=METRICS_TOKEN,
    )
    client = await make_client(config)

    await scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")
    for wrong in (
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
        "Bearer ",
        METRICS_TOKEN,
    ):
        response = await client.get("/metrics", headers={"Authorization": wrong})
        assert response.status == 403, wrong
    response = await client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert response.status == 403


async def test_a_wrong_token_is_refused_even_from_an_allowed_address(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    config = with_metrics(config_env, tmp_path, PORTPASS_METRICS_TOKEN=METRICS_TOKEN)
    client = await make_client(config)
    await scrape(client)  # 127.0.0.1 is allowed by default
    response = await client.get("/metrics", headers={"Authorization": "Bearer stale-token"})
    assert response.status == 403


async def test_two_apps_in_one_process_count_apart(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    first = await make_client(with_metrics(config_env, tmp_path))
    second_env = config_env | {"PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'second.db'}"}
    second = await make_client(with_metrics(second_env, tmp_path))

    await Handset(first).send("說明")

    assert (await scrape(first)).value(
        "portpass_inbound_messages_total", channel="sms", outcome="replied"
    ) == 1
    assert (await scrape(second)).value(
        "portpass_inbound_messages_total", channel="sms", outcome="replied"
    ) == 0


# --- SMS and the link page ---------------------------------------------------------------


async def test_an_sms_verification_moves_the_counters(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    phone = Handset(client)
    before = await scrape(client)

    await phone.say("驗證", PASS_NO, ID_NO, "1")
    await phone.send(await last_code(client))
    refused = await phone.post(phone.form("驗證"), signature="not-a-signature")
    foreign = await Handset(client, "+14155550123").post(Handset(client, "+14155550123").form("V"))

    after = await scrape(client)
    assert (refused.status, foreign.status) == (403, 200)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("portpass_inbound_messages_total", channel="sms", outcome="replied") == 5
    assert moved("portpass_inbound_messages_total", channel="sms", outcome="refused_signature") == 1
    assert moved("portpass_inbound_messages_total", channel="sms", outcome="refused_region") == 1
    assert moved("portpass_codes_sent_total", origin="holder", channel="sms") == 1
    assert moved("portpass_verifications_total", channel="sms") == 1
    route = {"route": "/sms/inbound", "method": "POST"}
    assert moved("portpass_http_request_duration_seconds_count", **route) == 7
    assert moved("portpass_http_responses_total", status="403", **route) == 1


async def test_a_retried_sms_counts_as_a_duplicate_not_a_second_turn(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    phone = Handset(client)
    first = await phone.send("驗證", sid="SM" + "d" * 32)
    again = await phone.send("驗證", sid="SM" + "d" * 32)  # Twilio retries a webhook

    assert again == first
    result = await scrape(client)
    sms = {"channel": "sms"}
    assert result.value("portpass_inbound_messages_total", outcome="replied", **sms) == 1
    assert result.value("portpass_inbound_messages_total", outcome="duplicate", **sms) == 1


async def test_a_wrong_code_and_an_unknown_pass_are_counted(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, ID_NO, "1")
    code = await last_code(client)
    await phone.send(f"{(int(code) + 1) % 1_000_000:06d}")
    await phone.say("驗證", "KHPS113-999999", ID_NO, "1")

    result = await scrape(client)
    assert result.value("portpass_wrong_codes_total", channel="sms") == 1
    assert result.value("portpass_lookups_unmatched_total", channel="sms") == 1
    assert result.value("portpass_verifications_total", channel="sms") == 0


async def test_a_confirmed_link_counts_a_web_verification(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    path = await issue_link(client)
    page = await client.get(path)
    tag = form_tag(await page.text())
    headers = {"Origin": PUBLIC_BASE_URL, "Sec-Fetch-Site": "same-origin"}
    assert (await client.post(path, data={"tag": tag}, headers=headers)).status == 200
    assert (await client.post(path, data={"tag": "0" * 64})).status == 403

    result = await scrape(client)
    assert result.value("portpass_verifications_total", channel="web") == 1
    assert result.value("portpass_inbound_messages_total", channel="web", outcome="replied") == 1
    assert (
        result.value("portpass_inbound_messages_total", channel="web", outcome="refused_origin")
        == 1
    )
    # The route as declared, never the token in the path.
    assert (
        result.value(
            "portpass_http_request_duration_seconds_count", route="/v/{token}", method="GET"
        )
        == 1
    )
    assert path.removeprefix("/v/") not in result.text


# --- Telegram ----------------------------------------------------------------------------


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as tests/e2e/telegram/conftest.py


@pytest.mark.usefixtures("_ptb_timedelta")
async def test_a_telegram_verification_moves_the_counters(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path, telegram: FakeTelegram
) -> None:
    client = await make_client(with_metrics(config_env | telegram_env(telegram), tmp_path))
    user = TelegramUser(client, telegram, 555_000_222)

    question = await user.verify_until_confirm()
    await user.press(question, f"c:confirm:{PASS_NO}")
    await user.say(await latest_code(client))
    repeated = {"update_id": user.ids.next() - 1}  # the code's update again: a retry
    assert await post_update(client, {"update_id": user.ids.next()}, secret="wrong") == 403
    assert await post_update(client, repeated) == 200

    result = await scrape(client)
    replied = {"channel": "telegram", "outcome": "replied"}
    assert result.value("portpass_inbound_messages_total", **replied) == 6
    assert (
        result.value("portpass_inbound_messages_total", channel="telegram", outcome="duplicate")
        == 1
    )
    assert (
        result.value(
            "portpass_inbound_messages_total", channel="telegram", outcome="refused_secret"
        )
        == 1
    )
    assert result.value("portpass_codes_sent_total", origin="holder", channel="telegram") == 1
    assert result.value("portpass_verifications_total", channel="telegram") == 1
    assert (
        result.value(
            "portpass_http_request_duration_seconds_count", route="/telegram/webhook", method="POST"
        )
        == 8
    )


# --- the outbox ----------------------------------------------------------------------------


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as server:
        yield server


def twilio_config(config_env: dict[str, str], tmp_path: Path, twilio: FakeTwilio) -> Config:
    return with_metrics(
        config_env,
        tmp_path,
        PORTPASS_SMS_SENDER="twilio",
        PORTPASS_TWILIO_FROM_NUMBER="+15005550006",
        PORTPASS_TWILIO_API_BASE_URL=twilio.url,
        PORTPASS_SMS_MAX_PER_SECOND="1000",
    )


async def until_scraped(client: AppClient, check: Callable[[Scrape], bool], what: str) -> Scrape:
    """Scrape until ``check`` holds (the outbox worker sends in its own task)."""
    result = await scrape(client)
    try:
        async with asyncio.timeout(5.0):
            while not check(result):
                await asyncio.sleep(0.01)
                result = await scrape(client)
    except TimeoutError:
        raise AssertionError(f"never saw {what} in:\n{result.text}") from None
    return result


async def test_outbox_sends_are_counted_by_result_and_error_code(
    make_client: MakeClient,
    config_env: dict[str, str],
    tmp_path: Path,
    twilio: FakeTwilio,
    clock: FakeClock,
) -> None:
    config = twilio_config(config_env, tmp_path, twilio)
    sender = TwilioSender(
        TWILIO_SID,
        TWILIO_TOKEN,
        from_number="+15005550006",
        status_callback_url=f"{PUBLIC_BASE_URL}/sms/status",
        api_base_url=twilio.url,
        timeout=2.0,
    )
    # Retries due at once on the fake clock: backoff under a millisecond.
    tuning = OutboxTuning(poll_interval=0.02, lease=3600.0, backoff_base=0.001, backoff_cap=0.001)
    client = await make_client(config, sender=sender, outbox=tuning)
    twilio.fail_next(Fault.server_error(), Fault.twilio_error(21211))
    phone = Handset(client)

    await phone.say("驗證", PASS_NO, ID_NO, "1")  # 500: retried; then 21211: failed
    await until_scraped(
        client,
        lambda s: s.value("portpass_sms_sends_total", result="transient", error_code="") == 1,
        "the transient failure",
    )
    clock.advance(seconds=1)  # the retry comes due
    await until_scraped(
        client,
        lambda s: s.value("portpass_sms_sends_total", result="permanent", error_code="21211") == 1,
        "the permanent failure",
    )
    await phone.say("驗證", PASS_NO, ID_NO, "1")  # R2 was freed: a second code, sent
    result = await until_scraped(
        client,
        lambda s: s.value("portpass_sms_sends_total", result="sent", error_code="") == 1,
        "the sent SMS",
    )

    assert result.value("portpass_sms_sends_total", result="transient", error_code="") == 1
    [message] = twilio.messages
    callback = twilio.status_params(message["sid"], "undelivered", error_code=30003)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        f"{PUBLIC_BASE_URL}/sms/status", callback
    )
    answer = await client.post(
        "/sms/status", data=callback, headers={"X-Twilio-Signature": signature}
    )
    assert answer.status == 204
    result = await scrape(client)
    assert (
        result.value(
            "portpass_sms_delivery_statuses_total", status="undelivered", error_code="30003"
        )
        == 1
    )


async def test_outbox_depth_and_age_are_read_from_the_database(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path, clock: FakeClock
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    now = clock.now()
    later = now + timedelta(hours=1)  # waiting for a retry: the worker leaves them alone

    def row(state: str, priority: int, age: float) -> dict[str, Any]:
        created = now - timedelta(seconds=age)
        return {
            "kind": "notice",
            "to_phone": HOLDER_E164,
            "body": "x",
            "created_at": created,
            "updated_at": created,
            "state": state,
            "priority": priority,
            "next_attempt_at": later,
            "lease_until": later if state == "sending" else None,
        }

    rows = [
        row("pending", 0, 90.0),
        row("pending", 0, 30.0),
        row("pending", 2, 3600.0),
        row("sending", 2, 5.0),
        row("sent", 0, 7200.0),  # sent: not in the queue
    ]
    async with services_of(client).engine.begin() as conn:
        await conn.execute(insert(outbox), rows)

    result = await scrape(client)

    queued = "portpass_outbox_queued"
    assert result.value(queued, state="pending", priority="0") == 2
    assert result.value(queued, state="pending", priority="1") == 0
    assert result.value(queued, state="pending", priority="2") == 1
    assert result.value(queued, state="sending", priority="2") == 1
    assert result.value(queued, state="sending", priority="0") == 0
    age = "portpass_outbox_oldest_pending_age_seconds"
    assert result.value(age, priority="0") == 90.0
    assert result.value(age, priority="1") == 0.0
    assert result.value(age, priority="2") == 3600.0

    clock.advance(seconds=10)  # read again at each scrape, not remembered
    assert (await scrape(client)).value(age, priority="0") == 100.0


async def test_campaign_progress_is_read_from_the_database_while_the_campaign_is_open(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(with_metrics(config_env, tmp_path))
    campaigns = services_of(client).campaigns
    plan = await campaigns.create(CampaignSpec("autumn", rate=10), dry_run=False)
    assert plan.campaign_id is not None
    campaign = str(plan.campaign_id)

    result = await scrape(client)
    targets = "portpass_campaign_targets"
    assert result.value(targets, campaign=campaign, state="queued") == plan.recipients > 0
    assert result.value(targets, campaign=campaign, state="excluded") == plan.skipped_total > 0

    await campaigns.cancel(plan.campaign_id)
    result = await scrape(client)
    assert not [key for key in result.samples if key[0] == targets]  # over: no longer news


# --- nothing personal, nothing secret -----------------------------------------------------


_PERSONAL = re.compile(r"\+?886\d{9}|09\d{8}|[A-Z]{4}\d{3}-?\d{6}|[A-Z]{1,2}\d{8,9}")


@pytest.mark.usefixtures("_ptb_timedelta")
async def test_no_personal_data_or_secret_in_the_metrics(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path, telegram: FakeTelegram
) -> None:
    config = with_metrics(
        config_env | telegram_env(telegram), tmp_path, PORTPASS_METRICS_TOKEN=METRICS_TOKEN
    )
    client = await make_client(config)
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, ID_NO, "1")
    sms_code = await last_code(client)
    await phone.send(sms_code)
    await phone.say("狀態")
    user = TelegramUser(client, telegram, 555_000_333)
    question = await user.verify_until_confirm(pass_no="KHPS113-000040", id_no="QQ12345671")
    await user.press(question, "c:confirm:KHPS113-000040")
    telegram_code = await latest_code(client)
    await user.say(telegram_code)
    token = await latest_link_token(client)
    assert (await client.get(f"/v/{token}")).status == 200  # the link page, opened

    result = await scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")

    for secret in (
        METRICS_TOKEN,
        TWILIO_TOKEN,
        WEBHOOK_SECRET,
        config_env["PORTPASS_SECURITY_SECRET_KEY"],
        telegram.token,
        token,
        HOLDER_E164,
        PASS_NO,
        ID_NO,
    ):
        assert secret not in result.text, secret
    labels = result.label_values()
    for value in labels:
        assert not _PERSONAL.search(value), value
        assert value not in (sms_code, telegram_code, PHONE), value
    assert "portpass_verifications_total" in result.text
