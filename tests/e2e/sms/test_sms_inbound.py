"""``POST /sms/inbound`` as Twilio calls it: signed with ``RequestValidator`` over the
public URL, retried, sometimes oversized or malformed, from numbers we cannot verify.

Also home of :class:`Handset`, the phone that texts the app in the other SMS tests.
"""

from __future__ import annotations

import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.config import Config, load_config
from bot.config.secret_key import resolve_secret_key
from bot.sms.signature import demo_auth_token
from storage.tables import conversations, inbound_messages, outbox, verification_requests
from tests.e2e.conftest import (
    PUBLIC_BASE_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    AppClient,
    sent_sms,
    services_of,
)

HOLDER = "+886960123411"  # on many passes in the demo registry
INBOUND_URL = PUBLIC_BASE_URL + "/sms/inbound"


class Handset:
    """A phone texting our Twilio number: each message is posted as Twilio posts it,
    signed over the URL Twilio would call (the public one, not the test server's)."""

    def __init__(
        self,
        client: AppClient,
        number: str = HOLDER,
        *,
        token: str = TWILIO_TOKEN,
        url: str = INBOUND_URL,
    ) -> None:
        self.client, self.number, self.token, self.url = client, number, token, url

    def form(self, body: str, sid: str | None = None) -> dict[str, str]:
        return {
            "ToCountry": "TW",
            "SmsMessageSid": sid or "",
            "NumMedia": "0",
            "MessageSid": sid or f"SM{uuid.uuid4().hex}",
            "AccountSid": TWILIO_SID,
            "From": self.number,
            "To": "+886900000000",
            "Body": body,
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }

    def sign(self, form: dict[str, str], url: str | None = None) -> str:
        signature: str = RequestValidator(self.token).compute_signature(url or self.url, form)
        return signature

    async def post(
        self, form: dict[str, str], *, signature: str | None = None, path: str = "/sms/inbound"
    ) -> ClientResponse:
        sig = self.sign(form) if signature is None else signature
        headers = {"X-Twilio-Signature": sig} if sig else {}
        return await self.client.post(path, data=form, headers=headers)

    async def send(self, body: str, *, sid: str | None = None) -> list[str]:
        """Text ``body``; the messages the app answers with (TwiML, parsed)."""
        response = await self.post(self.form(body, sid))
        assert response.status == 200, await response.text()
        assert response.content_type == "text/xml"
        return messages_in(await response.text())

    async def say(self, *bodies: str) -> str:
        """Text each in turn; the last answer's messages joined by newlines."""
        answer: list[str] = []
        for body in bodies:
            answer = await self.send(body)
        return "\n".join(answer)


def messages_in(twiml: str) -> list[str]:
    root = ET.fromstring(twiml)  # noqa: S314 (our own server's TwiML, in a test)
    assert root.tag == "Response"
    return [message.text or "" for message in root.iter("Message")]


async def sms_to(client: AppClient, number: str = HOLDER) -> list[str]:
    """Every SMS the app committed to send to ``number``, oldest first, as delivered."""
    return await sent_sms(services_of(client), number)


async def last_code(client: AppClient, number: str = HOLDER) -> str:
    bodies = await sms_to(client, number)
    assert bodies, f"no SMS to {number}"
    match = re.search(r"驗證碼(\d{6})|(?:code|kode|ma) (\d{6})", bodies[-1])
    assert match, bodies[-1]
    return match.group(1) or match.group(2)


async def count(client: AppClient, table: Any) -> int:
    async with services_of(client).engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def nothing_changed(client: AppClient) -> bool:
    for table in (conversations, inbound_messages, outbox, verification_requests):
        if await count(client, table):
            return False
    return True


@pytest.fixture
def phone(client: AppClient) -> Handset:
    return Handset(client)


# --- authenticity -------------------------------------------------------------------


async def test_wrong_signature_is_refused_and_changes_nothing(client, phone):
    form = phone.form("驗證")
    wrong = RequestValidator("not-the-token").compute_signature(INBOUND_URL, form)
    response = await phone.post(form, signature=wrong)
    assert response.status == 403
    assert await nothing_changed(client)


async def test_a_signature_over_other_fields_is_refused(client, phone):
    form = phone.form("驗證")
    signature = phone.sign(form)
    form["Body"] = "狀態"  # tampered after signing
    assert (await phone.post(form, signature=signature)).status == 403
    assert await nothing_changed(client)


async def test_missing_signature_is_refused(client, phone):
    response = await phone.post(phone.form("驗證"), signature="")
    assert response.status == 403
    assert await nothing_changed(client)


async def test_signature_over_the_internal_url_is_refused(client, phone):
    """Twilio calls the public URL; a signature over our listening address is not one
    Twilio made, and accepting it would accept requests that bypassed the proxy."""
    form = phone.form("驗證")
    internal = str(client.make_url("/sms/inbound"))
    response = await phone.post(form, signature=phone.sign(form, internal))
    assert response.status == 403
    assert await nothing_changed(client)


async def test_signature_covers_the_query_string(client, phone):
    form = phone.form("驗證")
    signed_without = phone.sign(form)
    response = await phone.post(form, signature=signed_without, path="/sms/inbound?x=1")
    assert response.status == 403
    signed_with = phone.sign(form, INBOUND_URL + "?x=1")
    response = await phone.post(form, signature=signed_with, path="/sms/inbound?x=1")
    assert response.status == 200


async def test_behind_a_proxy_with_a_path_prefix_and_port(config_env, tmp_path, make_client):
    """The proxy at https://edge.example.tw:8443/portpass forwards to our /sms/inbound:
    Twilio signs the public URL, which is nothing like the test server's address."""
    public = "https://edge.example.tw:8443/portpass"
    config_env["PORTPASS_SERVER_PUBLIC_BASE_URL"] = public
    client = await make_client(load_config(None, config_env, cwd=tmp_path))
    phone = Handset(client, url=public + "/sms/inbound")
    assert "通行證號" in await phone.say("驗證")
    assert (await Handset(client).post(phone.form("驗證"))).status == 403


# --- demo and missing token ------------------------------------------------------------


async def test_without_a_token_and_not_in_demo_inbound_sms_is_unavailable(
    config_env, tmp_path, make_client, caplog
):
    del config_env["TWILIO_AUTH_TOKEN"]
    client = await make_client(load_config(None, config_env, cwd=tmp_path), demo=False)
    phone = Handset(client)
    with caplog.at_level(logging.WARNING, logger="bot.sms.inbound"):
        response = await phone.post(phone.form("驗證"))
    assert response.status == 503
    assert "twilio.auth_token is required for inbound SMS" in caplog.text
    assert await nothing_changed(client)


async def test_demo_without_a_token_accepts_the_token_derived_from_the_secret_key(
    config_env, tmp_path, make_client
):
    del config_env["TWILIO_AUTH_TOKEN"]
    config = load_config(None, config_env, cwd=tmp_path)
    client = await make_client(config, demo=True)
    token = demo_auth_token(resolve_secret_key(config, demo=True))
    assert "通行證號" in await Handset(client, token=token).say("驗證")
    assert (await Handset(client, token="guess").post(Handset(client).form("V"))).status == 403


# --- the body ------------------------------------------------------------------------------


async def test_oversized_body_by_content_length_is_refused(client, config: Config, phone):
    form = phone.form("驗" * config.server.max_body_bytes)
    response = await phone.post(form)
    assert response.status == 413
    assert await nothing_changed(client)


async def test_oversized_chunked_body_is_refused_while_reading(client, config: Config, phone):
    """No Content-Length to trust: the body is counted as it arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"MessageSid=SM1&From=%2B886960123411&Body="
        for _ in range(config.server.max_body_bytes // 1024 + 1):
            yield b"a" * 1024

    response = await client.post(
        "/sms/inbound",
        data=chunks(),
        headers={
            "X-Twilio-Signature": "x",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 413
    assert await nothing_changed(client)


@pytest.mark.parametrize("missing", ["MessageSid", "From", "Body"])
async def test_signed_but_malformed_body_is_a_400(client, phone, missing):
    form = phone.form("驗證")
    del form[missing]
    response = await phone.post(form)
    assert response.status == 400
    assert "required" in await response.text()
    assert await nothing_changed(client)


async def test_a_body_that_is_not_utf8_cannot_be_signed(client, phone):
    response = await client.post(
        "/sms/inbound",
        data=b"Body=\xff\xfe",
        headers={
            "X-Twilio-Signature": phone.sign({"Body": "\ufffd\ufffd"}),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert response.status == 403


# --- retries -----------------------------------------------------------------------------------


async def test_a_retried_wrong_code_is_answered_again_and_counts_once(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    wrong = f"{(int(await last_code(client)) + 1) % 1_000_000:06d}"
    sid = f"SM{uuid.uuid4().hex}"
    first = await phone.send(wrong, sid=sid)
    again = await phone.send(wrong, sid=sid)
    assert again == first
    assert "還可以再試 4 次" in first[0]
    async with services_of(client).engine.connect() as conn:
        attempts = (
            await conn.execute(select(verification_requests.c.failed_attempts))
        ).scalar_one()
    assert attempts == 1
    assert "還可以再試 3 次" in await phone.say(wrong)  # a new message does count


async def test_a_retried_confirmation_sends_one_sms(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673")
    sid = f"SM{uuid.uuid4().hex}"
    first = await phone.send("1", sid=sid)
    again = await phone.send("1", sid=sid)
    assert (
        first
        == again
        == [
            (
                "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
                "或點簡訊中的連結完成驗證（24小時內有效）。"
            )
        ]
    )
    assert len(await sms_to(client)) == 1
    assert await count(client, verification_requests) == 1


async def test_a_retry_while_the_first_is_in_flight_gets_an_empty_answer(client, phone):
    sid = f"SM{uuid.uuid4().hex}"
    await services_of(client).inbound.claim("sms", sid, services_of(client).clock.now())
    response = await phone.post(phone.form("驗證", sid))
    assert response.status == 200
    assert messages_in(await response.text()) == []
    assert await count(client, conversations) == 0


class BrokenEngine:
    """A conversation engine that fails with ``error`` (its message quotes personal data,
    as a driver's error may)."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    async def handle(self, who: Any, message: Any, *, message_id: str | None = None) -> Any:
        raise self.error("SELECT ... WHERE phone = '+886960123411' AND id_no = 'QQ12345673'")


async def test_a_turn_the_database_could_not_store_is_a_503_and_logs_no_details(
    client, phone, caplog
):
    services_of(client).conversations = BrokenEngine(ConnectionResetError)  # type: ignore[assignment]
    sid = f"SM{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO):
        response = await phone.post(phone.form("QQ12345673", sid))
    assert (response.status, await response.read()) == (503, b"")  # Twilio may retry
    assert f"inbound SMS {sid} not stored, answered 503 for a retry: ConnectionResetError" in (
        caplog.text
    )
    assert "886960123411" not in caplog.text
    assert "QQ12345673" not in caplog.text


class Bug(Exception):
    pass


async def test_a_bug_in_a_turn_answers_something_and_logs_no_details(client, phone, caplog):
    """A retry would fail the same way: the holder is told, and the answer is 200."""
    services_of(client).conversations = BrokenEngine(Bug)  # type: ignore[assignment]
    sid = f"SM{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO):
        first = await phone.send("QQ12345673", sid=sid)
        again = await phone.send("QQ12345673", sid=sid)
    assert first == again == ["發生錯誤，請稍後再試。"]
    assert f"inbound SMS {sid} failed: Bug" in caplog.text
    assert "886960123411" not in caplog.text
    assert "QQ12345673" not in caplog.text


# --- senders -------------------------------------------------------------------------------------


# SMS pumping: replies to these would earn someone termination fees.
PUMPED = [
    ("+14155550100", "+1********00"),  # a US number
    ("+882345678901", "+882*******01"),  # International Networks: premium-rate territory
    ("+79161234567", "+7********67"),  # a Russian mobile
    ("+886223456789", "+886*******89"),  # a Taipei landline
    ("+8613800138000", "+86*********00"),  # a mainland China mobile
    ("12345", "*****"),  # a short code
    ("TWPORT", "******"),  # an alphanumeric sender
]


@pytest.mark.parametrize(("number", "masked"), PUMPED)
async def test_a_sender_we_cannot_verify_gets_no_sms_at_all(client, number, masked, caplog):
    sender = Handset(client, number)
    with caplog.at_level(logging.INFO):
        response = await sender.post(sender.form("驗證"))
    assert response.status == 200
    assert messages_in(await response.text()) == []  # an empty <Response/>: nothing sent
    assert await nothing_changed(client)
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.sms.sender_filter"]
    assert f" from {masked} dropped without a reply: " in line
    assert line.endswith("(1 dropped since start)")
    assert number.lstrip("+") not in caplog.text


async def test_dropped_senders_are_counted(client, caplog):
    with caplog.at_level(logging.INFO):
        for number, _ in PUMPED[:4]:
            assert await Handset(client, number).send("STATUS") == []
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.sms.sender_filter"]
    assert [line.rsplit("(", 1)[1] for line in lines] == [
        f"{n} dropped since start)" for n in (1, 2, 3, 4)
    ]
    assert "outside phone.allowed_regions" in lines[0]
    assert "not a mobile number" in lines[3]  # the Taipei landline


async def test_an_unknown_taiwanese_mobile_can_talk_but_finds_nothing(client):
    stranger = Handset(client, "+886911000111")
    assert "查無以此手機號碼登錄的通行證" in await stranger.say("狀態")
    await stranger.say("驗證", "KHPS113-000043")
    assert "查無人員通行證或手機資料" in await stranger.say("QQ12345673", "1")
    assert await sms_to(client, "+886911000111") == []


async def test_full_width_and_mixed_case_input(client, phone):
    assert "通行證號" in await phone.say("ｖｅｒｉｆｙ")
    assert "ID number" not in await phone.say("ｋｈｐｓ１１３－００００４３")
    confirm = await phone.say(" qQ12345673 ")
    assert confirm == "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    assert "驗證碼已經成功送出。" in await phone.say("１")
    assert "手機驗證完成" in await phone.say(_full_width(await last_code(client)))


def _full_width(digits: str) -> str:
    return "".join(chr(ord(d) - ord("0") + ord("０")) for d in digits)


def _in_digits(code: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in code)


@pytest.mark.parametrize(
    ("script", "zero"), [("arabic-indic", "٠"), ("devanagari", "०"), ("persian", "۰")]
)
async def test_a_right_code_in_other_digits_verifies_and_costs_no_try(client, phone, script, zero):
    """Phones with an Arabic, Persian or Hindi keyboard send the code in
    their own digits; it is the same code, not a wrong guess."""
    await phone.say("驗證", "KHPS113-000043", "QQ12345673\u200f", "1")  # with an RLM
    code = await last_code(client)
    assert "手機驗證完成" in await phone.say("\u200f" + _in_digits(code, zero))
    async with services_of(client).engine.connect() as conn:
        attempts = (await conn.execute(select(verification_requests.c.failed_attempts))).all()
    assert attempts == [(0,)], script


async def test_an_id_with_an_invisible_mark_is_taken_as_typed_without_it(client, phone):
    await phone.say("驗證", "KHPS113-000043\u200b")
    for mark in ("\u200f", "\u200b", "\ufeff"):
        confirm = await phone.say("QQ12345673" + mark)
        assert confirm.startswith("確定要取得KHPS113-000043人員通行證的手機驗證碼??"), mark
        await phone.say("驗證", "KHPS113-000043")


async def test_logs_carry_ids_and_masked_phones_never_bodies(client, phone, caplog):
    with caplog.at_level(logging.INFO):
        await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
        await phone.say(await last_code(client))
    inbound = [r.getMessage() for r in caplog.records if r.name == "bot.sms.inbound"]
    assert inbound and all("0960-***-411" in line for line in inbound)
    logged = caplog.text
    for secret in ("QQ12345673", await last_code(client), "0960123411", HOLDER):
        assert secret not in logged


async def test_replies_are_text_xml_twiml(phone):
    response = await phone.post(phone.form("說明"))
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert (await response.text()).startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')
