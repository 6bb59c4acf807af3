"""Twilio's own words over SMS: signed webhooks into the app over real HTTP, on SQLite.

On a long code Twilio acts on STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and
OPTOUT (it blocks the number, and still forwards the word to us), on START, UNSTOP and
YES (it lifts the block), and on HELP and INFO. The conversation must never use them,
and must keep its own record of who opted out.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from core.values import PassNumber
from storage.tables import audit_log, sms_opt_outs, verification_requests
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import HOLDER, Handset, last_code, sms_to

ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
CONFIRM = "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
OPTED_IN = "已恢復接收本服務的簡訊。\nYou will receive our SMS again."
OPT_OUT_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


@pytest.fixture
def phone(client: AppClient) -> Handset:
    return Handset(client)


async def opt_outs(client: AppClient) -> list[Any]:
    async with services_of(client).engine.connect() as conn:
        return list(await conn.execute(select(sms_opt_outs)))


async def audit(client: AppClient, action: str) -> list[Any]:
    query = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
    async with services_of(client).engine.connect() as conn:
        return list(await conn.execute(query))


async def requests_to(client: AppClient, number: str = HOLDER) -> int:
    query = select(verification_requests.c.id).where(verification_requests.c.phone == number)
    async with services_of(client).engine.connect() as conn:
        return len(list(await conn.execute(query)))


# --- the conversation's own words are not Twilio's --------------------------------------------


async def test_yes_at_the_confirmation_sends_no_code(client, phone):
    """YES is Twilio's opt-in word, not our confirmation: 1 or 確定 confirm."""
    assert await phone.say("驗證", "KHPS113-000043", "QQ12345673") == CONFIRM
    asked_again = await phone.say("YES")
    assert "KHPS113-000043" in asked_again and asked_again.endswith("回覆 1 確認，2 取消")
    assert await sms_to(client) == []
    assert await phone.say("確定") == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )


async def test_cancel_mid_conversation_opts_out_and_is_not_answered(client, phone):
    """Twilio unsubscribes a phone that sends CANCEL: the bot must not tell holders to
    send it, and must treat it as what it is for Twilio."""
    await phone.say("驗證", "KHPS113-000043", "QQ12345673")
    assert await phone.send("CANCEL") == []
    [row] = await opt_outs(client)
    assert (row.phone, row.source, row.reason) == (HOLDER, "keyword", "CANCEL")
    assert await phone.send("1") == []  # the conversation ended, and we stay silent
    assert await sms_to(client) == []
    assert await requests_to(client) == 0


# --- opting out ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "word"),
    [(word, word) for word in OPT_OUT_WORDS]
    + [("stop", "STOP"), ("  Stop \n", "STOP"), ("ＳＴＯＰ", "STOP"), ("OptOut", "OPTOUT")],
)
async def test_each_opt_out_word_records_an_opt_out_without_a_reply(client, phone, body, word):
    assert await phone.send(body) == []  # Twilio sends its own confirmation

    [row] = await opt_outs(client)
    assert (row.phone, row.source, row.reason) == (HOLDER, "keyword", word)
    [entry] = await audit(client, "sms.opt_out")
    assert (entry.actor, entry.subject) == ("0960-***-411", "0960-***-411")
    assert json.loads(entry.detail) == {"source": "keyword", "reason": word}
    assert "960123411" not in f"{entry.actor} {entry.subject} {entry.detail}"


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("STOP.", "STOP"),
        ("Stop!", "STOP"),
        ("STOP\u200b", "STOP"),  # a zero-width space a keyboard left behind
        ("\ufeffSTOP", "STOP"),  # a byte-order mark in front
        ("OPT-OUT", "OPTOUT"),
        ("opt out", "OPTOUT"),
        ("Unsubscribe.", "UNSUBSCRIBE"),
    ],
)
async def test_opt_out_words_with_punctuation_or_invisible_marks_are_opt_outs(
    client, phone, body, word
):
    """A holder who texts ``STOP.`` or ``OPT-OUT`` wants no more SMS: recorded as the
    word, with no answer, as for the bare word."""
    assert await phone.send(body) == []
    [row] = await opt_outs(client)
    assert (row.phone, row.source, row.reason) == (HOLDER, "keyword", word)
    assert len(await audit(client, "sms.opt_out")) == 1


async def test_a_word_inside_a_sentence_is_not_an_opt_out(client, phone):
    """Twilio blocks only on a message that is the word alone."""
    await phone.say("please stop")
    assert await opt_outs(client) == []


async def test_a_retried_stop_is_recorded_and_audited_once(client, phone):
    form = phone.form("STOP")
    for _ in range(2):
        response = await phone.post(form)
        assert response.status == 200
    assert len(await opt_outs(client)) == 1
    assert len(await audit(client, "sms.opt_out")) == 1


async def test_an_opted_out_phone_gets_no_sms_reply_at_all(client, phone):
    await phone.send("STOP")
    for body in ("驗證", "狀態", "說明", "hello", "STOP", "HELP"):
        assert await phone.send(body) == [], body
    assert len(await audit(client, "sms.opt_out")) == 1  # the second STOP changed nothing


async def test_a_code_replied_after_stop_still_verifies_silently(client, phone):
    """Nothing the holder does is lost: only the answer, which Twilio would refuse."""
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code = await last_code(client)
    await phone.send("STOP")
    assert await phone.send(code) == []
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse("KHPS113-000043"))
    assert record is not None and record.verified_phone is not None
    assert record.verified_phone.e164 == HOLDER


# --- opting back in ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["START", "UNSTOP", "YES", "start", " Yes "])
async def test_an_opt_in_word_lifts_the_opt_out_with_a_short_bilingual_answer(client, phone, body):
    await phone.send("STOP")

    assert await phone.say(body) == OPTED_IN

    assert await opt_outs(client) == []
    [entry] = await audit(client, "sms.opt_in")
    assert entry.subject == "0960-***-411"
    assert await phone.say("驗證") == ASK_PASS  # the conversation answers again


async def test_an_opt_in_word_without_an_opt_out_is_an_ordinary_message(client, phone):
    answer = await phone.say("START")
    assert answer.startswith("傳送「驗證」開始手機驗證")  # the short help, nothing else
    assert await audit(client, "sms.opt_in") == []


async def test_opting_out_of_one_phone_leaves_others_answered(client, phone):
    await phone.send("STOP")
    other = Handset(client, "+886912345618")
    assert await other.say("STATUS") == "KHPS113-**0030：未驗證"


# --- no code for an opted-out phone ---------------------------------------------------------


async def test_an_opted_out_phone_asking_for_a_code_gets_none(client, phone):
    await phone.send("STOP")

    for body in ("驗證", "KHPS113-000043", "QQ12345673", "1"):
        assert await phone.send(body) == []  # the refusal itself could not reach it

    assert await sms_to(client) == []
    assert await requests_to(client) == 0
    assert await phone.say("START") == OPTED_IN
    assert await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1") == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )
    assert len(await sms_to(client)) == 1
