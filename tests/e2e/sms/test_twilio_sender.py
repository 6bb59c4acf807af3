"""TwilioSender, with the real ``twilio`` client, against FakeTwilio over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.providers.sender import PermanentFailure, Sent, TransientFailure
from bot.providers.twilio_sender import TwilioSender
from fakes.twilio_api import PERMANENT_ERRORS, FakeTwilio, Fault, send_status_callback

TO = "+886912345678"
FROM = "+15005550006"
SERVICE = "MG" + "0123456789abcdef" * 2
BODY = "[港區通行證] 末四碼0043 驗證碼 123456，24小時內有效 https://pp.tw/v/abc"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as server:
        yield server


SenderFactory = Callable[..., TwilioSender]


@pytest.fixture
async def make_sender(fake: FakeTwilio) -> AsyncIterator[SenderFactory]:
    """Builds senders pointed at the fake and closes them all before the fake stops."""
    made: list[TwilioSender] = []

    def make(**overrides: Any) -> TwilioSender:
        kwargs: dict[str, Any] = {"api_base_url": fake.url, "timeout": 2.0}
        if "messaging_service_sid" not in overrides:
            kwargs["from_number"] = FROM
        kwargs.update(overrides)
        sender = TwilioSender(
            overrides.pop("account_sid", fake.account_sid),
            kwargs.pop("auth_token", fake.auth_token),
            **{k: v for k, v in kwargs.items() if k != "account_sid"},
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


# --- success -------------------------------------------------------------------------


async def test_sends_from_a_number(fake: FakeTwilio, make_sender: SenderFactory) -> None:
    result = await make_sender().send(TO, BODY)

    assert isinstance(result, Sent)
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_sid)
    assert result.status == "queued"
    [message] = fake.messages
    assert message["sid"] == result.provider_sid
    assert (message["to"], message["from"], message["body"]) == (TO, FROM, BODY)
    assert message["messaging_service_sid"] is None
    assert message["num_segments"] == "1"  # UCS-2, within 70 characters
    assert message["direction"] == "outbound-api"
    assert message["status_callback"] is None


async def test_sends_through_a_messaging_service(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    result = await make_sender(messaging_service_sid=SERVICE).send(TO, "code 123456")

    assert isinstance(result, Sent)
    assert result.status == "accepted"  # Twilio still has to pick a sender from the pool
    [form] = fake.requests
    assert form["MessagingServiceSid"] == SERVICE
    assert "From" not in form
    assert fake.messages[0]["num_segments"] == "1"


async def test_passes_the_status_callback_through(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    callback = "https://verify.example.tw/sms/status"
    await make_sender(status_callback_url=callback).send(TO, BODY)
    assert fake.messages[0]["status_callback"] == callback


async def test_many_sends_reuse_one_session(fake: FakeTwilio, make_sender: SenderFactory) -> None:
    sender = make_sender()
    results = [await sender.send(TO, f"code {n:06d}") for n in range(5)]
    assert all(isinstance(r, Sent) for r in results)
    assert len({r.provider_sid for r in results if isinstance(r, Sent)}) == 5


async def test_logs_mask_the_phone_and_omit_the_body(
    fake: FakeTwilio, make_sender: SenderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # serve quietens the twilio client's request log; here it is read in full.
    caplog.set_level(logging.DEBUG, logger="twilio.async_http_client")
    with caplog.at_level(logging.DEBUG):  # twilio's own request log included
        await make_sender().send(TO, BODY)
        fake.fail_next(Fault.twilio_error(21211))
        await make_sender().send(TO, BODY)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name == "bot.providers.twilio_sender"
    )
    assert "0912-***-678" in ours
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "twilio.async_http_client" in {r.name for r in caplog.records}
    assert "912345678" not in everything
    assert "123456" not in everything
    assert fake.auth_token not in everything
    assert "Basic " not in everything  # the Authorization header we add is not logged


async def test_concurrent_sends_keep_their_own_answers(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    sender = make_sender()
    fake.fail_next(Fault.rate_limited(retry_after=7))
    results = await asyncio.gather(*(sender.send(TO, f"code {n:06d}") for n in range(8)))
    limited = [r for r in results if isinstance(r, TransientFailure)]
    assert limited == [TransientFailure("Twilio answered HTTP 429 (code 20429)", 7.0)]
    assert sum(isinstance(r, Sent) for r in results) == 7


async def test_twilio_edge_in_the_environment_cannot_reroute_requests(
    fake: FakeTwilio, make_sender: SenderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")
    assert isinstance(await make_sender().send(TO, BODY), Sent)


def test_needs_exactly_one_sender_and_hides_the_token() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSender("AC1", "secret-token")
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSender("AC1", "secret-token", from_number=FROM, messaging_service_sid=SERVICE)
    with pytest.raises(ValueError, match="timeout"):
        TwilioSender("AC1", "secret-token", from_number=FROM, timeout=0)
    # bot.config spells "unset" as "".
    sender = TwilioSender("AC1", "secret-token", from_number="", messaging_service_sid=SERVICE)
    assert "secret-token" not in repr(sender)


# --- failures ------------------------------------------------------------------------


async def test_a_wrong_auth_token_is_a_permanent_config_error(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    result = await make_sender(auth_token="not-the-token").send(TO, BODY)

    assert isinstance(result, PermanentFailure)
    assert result.code == 20003
    assert result.config_error
    assert "config error" in result.reason
    assert fake.messages == []


async def test_a_wrong_account_sid_is_a_permanent_config_error(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    result = await make_sender(account_sid="AC" + "f" * 32).send(TO, BODY)
    assert isinstance(result, PermanentFailure)
    assert result.config_error


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.server_error(), 500), (Fault.unavailable(), 503)],
    ids=["500", "503"],
)
async def test_server_errors_are_transient(
    fake: FakeTwilio, make_sender: SenderFactory, fault: Fault, status: int
) -> None:
    fake.fail_next(fault)
    sender = make_sender()

    result = await sender.send(TO, BODY)

    assert isinstance(result, TransientFailure)
    assert str(status) in result.reason
    assert result.retry_after is None
    assert fake.messages == []
    assert isinstance(await sender.send(TO, BODY), Sent)  # the fault was used up


async def test_rate_limiting_is_transient_with_retry_after(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    fake.fail_next(Fault.rate_limited(retry_after=7))
    result = await make_sender().send(TO, BODY)
    assert result == TransientFailure("Twilio answered HTTP 429 (code 20429)", retry_after=7.0)


async def test_a_timeout_is_transient(fake: FakeTwilio, make_sender: SenderFactory) -> None:
    fake.fail_next(Fault.timeout(seconds=30))
    sender = make_sender(timeout=0.2)

    result = await sender.send(TO, BODY)

    assert isinstance(result, TransientFailure)
    assert "0.2s" in result.reason
    assert isinstance(await sender.send(TO, BODY), Sent)  # the session survived


async def test_a_timeout_can_hide_a_message_twilio_did_send(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    """Why the outbox must treat a timeout as "maybe sent": a retry can text twice."""
    fake.fail_next(Fault.timeout(seconds=0.4, then_send=True))
    result = await make_sender(timeout=0.1).send(TO, BODY)
    assert isinstance(result, TransientFailure)
    for _ in range(50):
        if fake.messages:
            break
        await asyncio.sleep(0.05)
    assert [m["to"] for m in fake.messages] == [TO]


async def test_a_refused_connection_is_transient(make_sender: SenderFactory) -> None:
    async with FakeTwilio() as gone:
        url = gone.url  # a port nobody listens on once it is closed
    result = await make_sender(api_base_url=url).send(TO, BODY)
    assert isinstance(result, TransientFailure)
    assert "connection" in result.reason


@pytest.mark.parametrize("code", sorted(PERMANENT_ERRORS))
async def test_twilio_errors_are_permanent_with_their_code(
    fake: FakeTwilio, make_sender: SenderFactory, code: int
) -> None:
    fake.fail_next(Fault.twilio_error(code))
    result = await make_sender().send(TO, BODY)

    assert isinstance(result, PermanentFailure)
    assert result.code == code
    assert not result.config_error
    assert "912345678" not in result.reason  # Twilio's text quotes the number; ours not


async def test_the_fake_itself_rejects_a_bad_to(
    fake: FakeTwilio, make_sender: SenderFactory
) -> None:
    result = await make_sender().send("0912345678", BODY)
    assert isinstance(result, PermanentFailure)
    assert result.code == 21211


# --- the fake's own validation, by raw HTTP ------------------------------------------


async def post_raw(fake: FakeTwilio, form: dict[str, str], *, token: str | None = None) -> Any:
    auth = aiohttp.encode_basic_auth(fake.account_sid, token or fake.auth_token)
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.messages_url, data=form, headers={"Authorization": auth}) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": TO, "From": FROM}, 21602),
        ({"To": TO, "From": FROM, "Body": ""}, 21602),
        ({"To": TO, "Body": "hi"}, 21603),
        ({"To": TO, "From": FROM, "MessagingServiceSid": SERVICE, "Body": "hi"}, 21603),
        ({"From": FROM, "Body": "hi"}, 21604),
        ({"To": "886912345678", "From": FROM, "Body": "hi"}, 21211),
        ({"To": TO, "From": FROM, "Body": "hi", "StatusCallback": "/sms/status"}, 21609),
        ({"To": TO, "From": FROM, "Body": "hi", "StatusCallback": "ftp://x.tw/s"}, 21609),
    ],
    ids=[
        "no-body",
        "empty-body",
        "neither-sender",
        "both-senders",
        "no-to",
        "to-not-e164",
        "relative-callback",
        "non-http-callback",
    ],
)
async def test_the_fake_rejects_bad_fields(
    fake: FakeTwilio, form: dict[str, str], code: int
) -> None:
    status, body = await post_raw(fake, form)
    assert status == 400
    assert body["code"] == code
    assert body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert body["message"]
    assert fake.messages == []


async def test_the_fake_demands_basic_auth(fake: FakeTwilio) -> None:
    status, body = await post_raw(fake, {"To": TO, "From": FROM, "Body": "hi"}, token="nope")
    assert (status, body["code"]) == (401, 20003)


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, "1"), ("a" * 161, "2"), ("碼" * 70, "1"), ("碼" * 71, "2"), ("碼" * 135, "3")],
)
async def test_the_fake_counts_segments_like_twilio(
    fake: FakeTwilio, body: str, segments: str
) -> None:
    status, answer = await post_raw(fake, {"To": TO, "From": FROM, "Body": body})
    assert (status, answer["num_segments"]) == (201, segments)


async def test_the_fake_answers_like_twilio(fake: FakeTwilio) -> None:
    status, body = await post_raw(fake, {"To": TO, "From": FROM, "Body": "hi"})
    assert status == 201
    assert body["account_sid"] == fake.account_sid
    assert body["uri"] == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{body['sid']}.json"
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", body["date_created"])
    assert body["api_version"] == "2010-04-01"
    assert (body["price"], body["error_code"]) == (None, None)


# --- signed status callbacks -----------------------------------------------------------


async def test_status_callbacks_are_signed_like_twilios(
    fake: FakeTwilio,
    make_sender: SenderFactory,
    aiohttp_server: Callable[..., Any],
) -> None:
    received: list[dict[str, str]] = []

    async def status(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(fake.auth_token).validate(str(request.url), form, signature):
            return web.Response(status=403)
        received.append(form)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/sms/status", status)
    server = await aiohttp_server(app)
    callback = str(server.make_url("/sms/status"))

    result = await make_sender(status_callback_url=callback).send(TO, BODY)
    assert isinstance(result, Sent)
    answer = await fake.report_status(result.provider_sid, "undelivered", error_code=30003)

    assert answer.status == 204
    [form] = received
    assert form["MessageSid"] == result.provider_sid
    assert (form["MessageStatus"], form["ErrorCode"], form["To"]) == ("undelivered", "30003", TO)

    forged = await send_status_callback(callback, form, "wrong-token")
    assert forged.status == 403
