"""``POST /sms/status``: Twilio's signed status callbacks, over real HTTP.

Messages are sent by the app's worker to FakeTwilio, which then reports their status
the way Twilio does: a form signed with the auth token over the StatusCallback URL.
The app runs "behind a proxy": Twilio signs ``https://pp.example.tw/sms/status`` while
the request reaches the test server's own address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.bootstrap import Overrides
from bot.config import Config, load_config
from bot.services import SERVICES, Services
from bot.sms.outbox_worker import OutboxTuning
from core.model import OutgoingSms
from core.values import Phone
from fakes.clock import FakeClock
from fakes.twilio_api import FakeTwilio
from storage.tables import outbox
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_SID, TWILIO_TOKEN, AppClient, services_of

FROM = "+15005550006"
STATUS_URL = f"{PUBLIC_BASE_URL}/sms/status"
TUNING = OutboxTuning(poll_interval=0.02, lease=3600.0, stop_grace=0.5)

MakeClient = Callable[..., Awaitable[AppClient]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as server:
        yield server


def twilio_env(config_env: dict[str, str], fake: FakeTwilio) -> dict[str, str]:
    return {
        **config_env,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": FROM,
        "PORTPASS_TWILIO_API_BASE_URL": fake.url,
    }


@pytest.fixture
def twilio_config(config_env: dict[str, str], tmp_path: Path, fake: FakeTwilio) -> Config:
    return load_config(None, twilio_env(config_env, fake), cwd=tmp_path)


@pytest.fixture
async def app_client(make_client: MakeClient, twilio_config: Config) -> AppClient:
    return await make_client(twilio_config, sender=None, outbox=TUNING)


async def send_one(services: Services, fake: FakeTwilio) -> str:
    """Queue an SMS, let the worker send it, and return Twilio's sid for it."""
    async with services.uow() as uow:
        sms = OutgoingSms(to=Phone.parse("0960123411"), body="notice", kind="notice")
        await uow.outbox.add(sms, services.clock.now())
        await uow.commit()
    async with asyncio.timeout(5):
        while True:
            row = await only_row(services)
            if row.state == "sent":
                break
            await asyncio.sleep(0.01)
    assert [m["sid"] for m in fake.messages] == [row.provider_sid]
    return str(row.provider_sid)


async def only_row(services: Services) -> Any:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(outbox))).one()


async def post_status(
    client: AppClient,
    params: dict[str, str],
    *,
    signed_url: str | None = STATUS_URL,
    token: str = TWILIO_TOKEN,
    signature: str | None = None,
) -> Any:
    headers = {}
    if signature is None and signed_url is not None:
        signature = RequestValidator(token).compute_signature(signed_url, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await client.post("/sms/status", data=params, headers=headers)


async def test_a_signed_callback_records_delivery(app_client: AppClient, fake: FakeTwilio) -> None:
    services = services_of(app_client)
    sid = await send_one(services, fake)

    sent = await post_status(app_client, fake.status_params(sid, "sent"))
    delivered = await post_status(app_client, fake.status_params(sid, "delivered"))

    assert (sent.status, delivered.status) == (204, 204)
    row = await only_row(services)
    assert (row.state, row.provider_status, row.error_code) == ("delivered", "delivered", None)


async def test_undelivered_records_the_error_code(app_client: AppClient, fake: FakeTwilio) -> None:
    services = services_of(app_client)
    sid = await send_one(services, fake)

    answer = await post_status(app_client, fake.status_params(sid, "undelivered", error_code=30003))

    assert answer.status == 204
    row = await only_row(services)
    assert (row.state, row.provider_status, row.error_code) == (
        "undelivered",
        "undelivered",
        "30003",
    )


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param({"signature": None, "signed_url": None}, id="missing"),
        pytest.param({"signature": "bm90IGEgc2lnbmF0dXJl"}, id="garbage"),
        pytest.param({"token": "not-the-token"}, id="wrong-token"),
        # What request.url would be behind the proxy: not what Twilio signed.
        pytest.param({"signed_url": "http://127.0.0.1/sms/status"}, id="wrong-url"),
    ],
)
async def test_a_bad_signature_is_refused_and_changes_nothing(
    app_client: AppClient, fake: FakeTwilio, forge: dict[str, Any]
) -> None:
    services = services_of(app_client)
    sid = await send_one(services, fake)

    answer = await post_status(app_client, fake.status_params(sid, "delivered"), **forge)

    assert answer.status == 403
    row = await only_row(services)
    assert (row.state, row.provider_status) == ("sent", "queued")


async def test_a_params_change_breaks_the_signature(
    app_client: AppClient, fake: FakeTwilio
) -> None:
    services = services_of(app_client)
    sid = await send_one(services, fake)
    params = fake.status_params(sid, "sent")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(STATUS_URL, params)

    answer = await post_status(
        app_client, {**params, "MessageStatus": "failed"}, signature=signature
    )

    assert answer.status == 403
    assert (await only_row(services)).state == "sent"


async def test_an_oversized_body_is_refused(app_client: AppClient, twilio_config: Config) -> None:
    limit = twilio_config.server.max_body_bytes
    answer = await app_client.post(
        "/sms/status",
        data={"MessageSid": "SM" + "0" * 32, "Padding": "x" * limit},
        headers={"X-Twilio-Signature": "irrelevant"},
    )
    assert answer.status == 413


async def test_an_unknown_sid_is_acknowledged_and_logged(
    app_client: AppClient, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    services = services_of(app_client)
    sid = await send_one(services, fake)
    params = {**fake.status_params(sid, "delivered"), "MessageSid": "SM" + "f" * 32}
    params["SmsSid"] = params["MessageSid"]

    with caplog.at_level(logging.WARNING, logger="bot.sms.status"):
        answer = await post_status(app_client, params)

    assert answer.status == 200  # Twilio must not retry it for ever
    assert await answer.text() == ""
    assert any("unknown message" in r.getMessage() for r in caplog.records)
    assert (await only_row(services)).state == "sent"


async def test_a_signed_callback_without_a_sid_is_a_bad_request(app_client: AppClient) -> None:
    answer = await post_status(app_client, {"MessageStatus": "delivered"})
    assert answer.status == 400


async def test_without_an_auth_token_every_callback_is_refused(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    """A signature keyed by an empty token is one anybody can compute."""
    config = load_config(None, {**config_env, "TWILIO_AUTH_TOKEN": ""}, cwd=tmp_path)
    client = await make_client(config, outbox=TUNING)
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    answer = await post_status(client, params, token="")
    assert answer.status == 403


async def test_twilio_reaches_the_callback_url_it_was_given(
    config_env: dict[str, str],
    tmp_path: Path,
    fake: FakeTwilio,
    clock: FakeClock,
    unused_tcp_port: int,
) -> None:
    """No proxy: the public base URL is the server itself, and FakeTwilio posts its
    signed callback to the StatusCallback the worker sent."""
    base = f"http://127.0.0.1:{unused_tcp_port}"
    env = {**twilio_env(config_env, fake), "PORTPASS_SERVER_PUBLIC_BASE_URL": base}
    config = load_config(None, env, cwd=tmp_path)
    app: web.Application = create_app(
        config, demo=True, overrides=Overrides(clock=clock, outbox=TUNING)
    )
    server = TestServer(app, host="127.0.0.1", port=unused_tcp_port)
    await server.start_server()
    try:
        services = app[SERVICES]
        sid = await send_one(services, fake)
        assert fake.messages[0]["status_callback"] == f"{base}/sms/status"

        answer = await fake.report_status(sid, "delivered")

        assert answer.status == 204
        assert (await only_row(services)).state == "delivered"
    finally:
        await server.close()
