"""The holder's whole SMS conversation, end to end: signed webhooks into the app over
real HTTP, the demo registry on SQLite, the verification SMS read from the outbox, and a
clock the tests move (24-hour expiry, 30-minute idle, the one-hour cool-down)."""

from __future__ import annotations

import asyncio

import pytest

from bot.providers.console import ConsoleSender
from core.model import Channel, Requester, Status
from core.status import status_of
from core.values import PassNumber
from core.verification.sms_text import segments
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import HOLDER, Handset, last_code, sms_to

ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
SENT = "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證（24小時內有效）。"


@pytest.fixture
def phone(client: AppClient) -> Handset:
    return Handset(client)


async def status(client: AppClient, pass_no: str) -> Status:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(pass_no))
    assert record is not None
    return status_of(record)


async def handed_to_sender(sender: ConsoleSender, body: str) -> bool:
    """Whether the SMS reached the sender within a second: the worker wakes on commit."""
    for _ in range(100):
        if [m for m in sender.recent if m.to == HOLDER and m.body == "【港務】" + body]:
            return True
        await asyncio.sleep(0.01)
    return False


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- from keyword to verified -------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["驗證", "验证", "VERIFY", "V", "verify", "v", "Ｖ"])
async def test_each_keyword_starts_the_conversation(phone, keyword):
    assert await phone.say(keyword) == ASK_PASS


async def test_keyword_pass_id_confirm_code_verified(client, phone, sender):
    assert await status(client, "KHPS113-000043") is Status.UNVERIFIED
    assert await phone.say("驗證") == ASK_PASS
    assert await phone.say("KHPS113-000043") == "請輸入身分證號（例：A123456789）。"
    assert await phone.say("QQ12345673") == (
        "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    )
    assert await phone.say("1") == SENT
    [sms] = await sms_to(client)
    assert "末四碼0043" in sms
    assert "https://pp.example.tw/v/" in sms
    assert await handed_to_sender(sender, sms)  # the outbox worker sent it
    done = await phone.say(await last_code(client))
    assert done == "手機驗證完成！通行證 KHPS113-000043 的手機 0960-123-411 已完成驗證。"
    assert await status(client, "KHPS113-000043") is Status.VERIFIED
    assert await status(client, "KHPS113-000040") is Status.UNVERIFIED  # R8: per pass


async def test_each_step_re_asks_with_an_example(phone):
    await phone.say("驗證")
    assert "KHPS113-000043" in await phone.say("my pass")
    await phone.say("KHPS113-000043")
    assert "A123456789" in await phone.say("???")
    await phone.say("QQ12345673")
    assert await phone.say("maybe") == (
        "沒有看懂這個回覆。要取得KHPS113-000043人員通行證的手機驗證碼嗎？\n回覆 1 確認，2 取消"
    )
    await phone.say("1")
    assert "6位數字驗證碼" in await phone.say("12345")


async def test_an_id_with_a_wrong_check_digit_is_questioned_then_accepted(client, phone):
    await phone.say("驗證", "KHPS113-000041")
    assert "最後一碼好像不對" in await phone.say("R123456788")
    assert "確定要取得KHPS113-000041" in await phone.say("R123456788")
    assert await phone.say("1") == SENT


async def test_a_mismatch_gets_the_guides_message_and_no_sms(client, phone):
    await phone.say("驗證", "KHPS113-000030", "A123456789")  # 阿金's pass: wrong ID, wrong phone
    assert "查無人員通行證或手機資料，無法取得驗證碼！" in await phone.say("1")
    assert await sms_to(client) == []
    assert await sms_to(client, "+886912345618") == []


async def test_the_same_combination_gets_one_code_per_24_hours(client, phone, clock):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    first = await last_code(client)
    again = await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    assert "24小時內已送過驗證碼" in again
    assert len(await sms_to(client)) == 1
    assert "手機驗證完成" in await phone.say(first)  # still waiting for the first code
    clock.advance(hours=24)
    await phone.say("驗證", "KHPS113-000043", "QQ12345673")
    assert await phone.say("1") == SENT


# --- codes ---------------------------------------------------------------------------------------


async def test_a_wrong_code_says_how_many_tries_remain(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code = await last_code(client)
    assert await phone.say(wrong(code)) == "驗證碼不正確，還可以再試 4 次。"
    assert await phone.say(wrong(code)) == "驗證碼不正確，還可以再試 3 次。"
    assert "手機驗證完成" in await phone.say(code)


async def test_five_wrong_codes_lock_out_the_sender_and_say_what_still_works(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code = await last_code(client)
    for remaining in (4, 3, 2, 1):
        assert f"還可以再試 {remaining} 次" in await phone.say(wrong(code))
    locked = await phone.say(wrong(code))
    assert locked.startswith("驗證碼錯誤次數過多，這裡不能再輸入這個驗證碼。")
    assert "連結" in locked and "業者申請人重新發送" in locked  # both still work
    assert "錯誤次數過多" in await phone.say(code)  # the right code no longer works here
    assert await status(client, "KHPS113-000043") is Status.UNVERIFIED


async def test_a_code_expires_after_24_hours(client, phone, clock):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code = await last_code(client)
    clock.advance(hours=24)
    assert await phone.say(code) == "驗證碼已超過24小時有效時限。請傳送「驗證」重新取得新的驗證碼。"
    assert await status(client, "KHPS113-000043") is Status.UNVERIFIED


async def test_a_bare_code_reply_to_an_operators_sms_needs_no_conversation(client, phone):
    services = services_of(client)
    account, _ = await services.operator_lifecycle.add_operator("港務測試", "高雄港測試業者")
    operator = Requester(key="cli:test", channel=Channel.CLI, actor="test")
    await services.verification.request_as_operator(
        account.operator, operator, PassNumber.parse("KHPS113-000040")
    )
    assert "手機驗證完成！通行證 KHPS113-000040" in await phone.say(await last_code(client))
    assert await status(client, "KHPS113-000040") is Status.VERIFIED


async def test_a_bare_code_after_the_conversation_was_cancelled(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    await phone.say("取消")
    assert "手機驗證完成" in await phone.say(await last_code(client))


async def test_with_several_live_requests_the_code_picks_the_pass(client, phone):
    """0960123411 is on many passes; the holder asks for three codes, then replies
    with them in another order."""
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code_43 = await last_code(client)
    await phone.say("驗證", "KHPS113-000040", "QQ12345671", "1")
    code_40 = await last_code(client)
    await phone.say("驗證", "KHPS113-000041", "R123456788", "R123456788", "1")
    code_41 = await last_code(client)
    assert len({code_43, code_40, code_41}) == 3, "a seeded clash: rerun"
    assert "KHPS113-000040" in await phone.say(code_40)
    assert "KHPS113-000043" in await phone.say(code_43)
    assert await status(client, "KHPS113-000041") is Status.UNVERIFIED
    assert "KHPS113-000041" in await phone.say(code_41)
    for pass_no in ("KHPS113-000043", "KHPS113-000040", "KHPS113-000041"):
        assert await status(client, pass_no) is Status.VERIFIED


async def test_a_code_with_no_request_says_how_to_start(phone):
    assert await phone.say("123456") == "目前沒有等待驗證的驗證碼。如需驗證，請傳送「驗證」。"


async def test_a_code_already_used_says_so(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    code = await last_code(client)
    await phone.say(code)
    assert await phone.say(code) == "此驗證碼已使用過，手機已完成驗證。"


# --- stopping and timing out ---------------------------------------------------------------


@pytest.mark.parametrize("word", ["取消", "2", "/cancel"])
async def test_cancel_at_any_step(client, phone, word):
    cancelled = "已取消。需要驗證時，請再傳送「驗證」。"
    assert await phone.say("驗證", word) == cancelled
    assert await phone.say("驗證", "KHPS113-000043", word) == cancelled
    assert await phone.say("驗證", "KHPS113-000043", "QQ12345673", word) == cancelled
    assert await phone.say("驗證", "KHPS113-000043", "QQ12345673", "2") == cancelled
    assert "傳送「驗證」開始" in await phone.say("QQ12345673")  # nothing is waiting
    assert await sms_to(client) == []


async def test_thirty_idle_minutes_end_the_conversation(client, phone, clock):
    await phone.say("驗證", "KHPS113-000043")
    clock.advance(minutes=29)
    assert "確定要取得" in await phone.say("QQ12345673")  # still within 30 minutes
    clock.advance(minutes=31)
    timed_out = await phone.say("1")
    assert timed_out.startswith("上一次的驗證對話已逾時結束。")
    assert await sms_to(client) == []


async def test_waiting_for_the_code_is_not_idling(client, phone, clock):
    """The code lives 24 hours: a holder who reads the SMS hours later is not told the
    conversation timed out."""
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    clock.advance(hours=3)
    assert (await phone.say(await last_code(client))).startswith("手機驗證完成")


# --- status, help, language ------------------------------------------------------------------


@pytest.mark.parametrize("word", ["狀態", "状态", "STATUS", "status"])
async def test_status_shows_only_the_senders_passes_masked(client, phone, word):
    # Ten passes take two pages of at most two segments each.
    first, second = (
        (await phone.say(word)).splitlines(),
        (await phone.say(f"{word} 2")).splitlines(),
    )
    assert first[-1].endswith("2」看下一頁。") or first[-1].endswith("STATUS 2 for the next page.")
    shown = first[:-1] + second[:-1]
    assert "KHPS113-**0043：未驗證" in shown
    assert "KHPS113-**0045：已驗證" in shown
    assert "KHPS113-**0022：已驗證" in shown  # the same phone on a foreigner's pass
    text = "\n".join(shown)
    assert "KHPS113-000043" not in text  # masked
    for someone_else in ("0030", "0035", "0039", "0016", "0101"):
        assert someone_else not in text
    assert len(shown) == 10  # every pass with 0960123411 on file, nothing more
    assert all(segments(page).count <= 2 for page in ("\n".join(first), "\n".join(second)))


async def test_status_after_verifying(client, phone):
    await phone.say("驗證", "KHPS113-000043", "QQ12345673", "1")
    await phone.say(await last_code(client))
    assert "KHPS113-**0043：已驗證" in await phone.say("狀態") + await phone.say("狀態 2")


async def test_status_for_someone_else_shows_only_theirs(client):
    other = Handset(client, "+886912345618")
    assert await other.say("STATUS") == "KHPS113-**0030：未驗證"


@pytest.mark.parametrize("word", ["說明", "说明", "?", "？"])
async def test_help(phone, word):
    answer = await phone.say(word)
    assert answer.startswith("港區通行證手機驗證：傳送「驗證」開始")
    assert len(answer.splitlines()) == 2


async def test_anything_else_gets_a_short_help_naming_the_other_languages(phone):
    # Someone who reads no Chinese learns in their own language's name how to switch.
    answer = await phone.say("hello, who is this?")
    assert answer.splitlines() == [
        "傳送「驗證」開始手機驗證，或回覆簡訊中的6位數字驗證碼。",
        "傳送「說明」取得更多說明。",
        "English: EN · Tiếng Việt: VI · Bahasa Indonesia: ID",
    ]
    assert await phone.say("VI") != await phone.say("ID")  # and each word switches


async def test_english_then_chinese(client, phone):
    assert await phone.say("EN") == "Switched to English."
    assert await phone.say("VERIFY") == "Please type your pass number (for example KHPS113-000043)."
    await phone.say("KHPS113-000043")
    assert await phone.say("QQ12345673") == (
        "Get a verification code for pass KHPS113-000043?\nReply 1 to get the code, 2 to cancel"
    )
    assert await phone.say("1") == (
        "The code has been sent. Please enter the 6-digit code from the SMS, or open its link "
        "to verify (valid for 24 hours)."
    )
    [sms] = await sms_to(client)
    assert sms.startswith("Port pass phone verification: pass ending 0043")
    assert (await phone.say(await last_code(client))).startswith("Verified! Pass KHPS113-000043")
    assert "Send ? for more." in await phone.say("what?")
    assert await phone.say("中文") == "已切換為中文。"
    assert await phone.say("驗證") == ASK_PASS


async def test_the_confirm_hint_follows_a_language_switch_mid_conversation(phone):
    await phone.say("驗證", "KHPS113-000043", "EN")
    assert (await phone.say("QQ12345673")).endswith("Reply 1 to get the code, 2 to cancel")


# --- the failed-lookup limit ---------------------------------------------------------------------


async def test_five_failed_lookups_in_an_hour_cool_the_sender_down(client, phone, clock):
    for _ in range(5):
        assert "查無人員通行證" in await phone.say("驗證", "KHPS113-000030", "A123456789", "1")
        clock.advance(minutes=1)
    cooled = await phone.say("驗證")
    assert cooled.startswith("查詢失敗次數過多，請於 2026/11/27 11:00 後再試。再試前請核對")
    # Even the right details wait: nobody can keep guessing ID numbers by SMS.
    assert "請輸入通行證號" not in cooled  # not asked for the pass number
    assert "傳送「驗證」開始" in await phone.say("KHPS113-000043")
    # Another sender is not affected.
    assert await Handset(client, "+886912345618").say("驗證") == ASK_PASS
    clock.advance(minutes=56)
    assert await phone.say("驗證") == ASK_PASS
    await phone.say("KHPS113-000043", "QQ12345673")
    assert await phone.say("1") == SENT


# --- storage, not memory ------------------------------------------------------------------------


async def test_a_restarted_app_continues_the_conversation(client, make_client, config, phone):
    await phone.say("驗證", "KHPS113-000043")
    await client.close()  # the first process goes away mid-conversation
    restarted = await make_client(config)
    again = Handset(restarted)
    assert "確定要取得KHPS113-000043" in await again.say("QQ12345673")
    assert await again.say("1") == SENT
    assert "手機驗證完成" in await again.say(await last_code(restarted, HOLDER))
    assert await status(restarted, "KHPS113-000043") is Status.VERIFIED


async def test_two_instances_share_one_conversation(client, make_client, config, phone):
    second = Handset(await make_client(config))
    await phone.say("驗證")
    await second.say("KHPS113-000043")
    assert "確定要取得" in await phone.say("QQ12345673")


# --- forgiving input ------------------------------------------------------------


@pytest.mark.parametrize("answer", ["確定", "是", "1"])
async def test_the_check_digit_question_is_answered_by_saying_the_number_is_right(
    client, phone, answer
):
    await phone.say("驗證", "KHPS113-000041")
    assert await phone.say("R123456788") == (
        "身分證號 R123456788 最後一碼好像不對，可能打錯了。"
        "請再確認一次；若號碼無誤，請回覆「確定」或 1"
        "（或再輸入一次同一號碼）。"
    )
    assert await phone.say(answer) == (
        "確定要取得KHPS113-000041人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    )
    assert await phone.say("1") == SENT


async def test_an_all_digit_id_is_refused_with_an_example(client, phone):
    await phone.say("驗證", "KHPS113-000043")
    assert await phone.say("12345") == (
        "身分證號與居留證號都以英文字母開頭，請輸入如 A123456789 的號碼。"
    )
    assert await phone.say("QQ12345673") == (
        "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    )


async def test_anything_but_yes_or_no_at_the_confirm_question_says_reply_1_or_2(client, phone):
    await phone.say("EN", "VERIFY", "KHPS113-000043", "QQ12345673")
    assert await phone.say("sure thing") == (
        "Sorry, I didn't understand. Get a verification code for pass KHPS113-000043?\n"
        "Reply 1 to get the code, 2 to cancel"
    )
    assert await sms_to(client) == []


@pytest.mark.parametrize(
    "message",
    [
        "驗證 KHPS113-000043 QQ12345673",
        "驗證　ＫＨＰＳ１１３－００００４３　ＱＱ１２３４５６７３",
        "KHPS113-000043 QQ12345673",
    ],
)
async def test_a_whole_request_in_one_sms_goes_straight_to_the_confirm_question(
    client, phone, message
):
    assert await phone.say(message) == (
        "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    )
    assert await phone.say("1") == SENT
    assert len(await sms_to(client)) == 1


@pytest.mark.parametrize("word", ["HELP", "help", "INFO"])
async def test_help_and_info_over_sms_are_left_to_twilio(phone, word):
    """Twilio answers HELP and INFO itself on a long code: we add no second answer, and
    the conversation goes on where it was (說明 or ? is ours)."""
    await phone.say("驗證")
    assert await phone.send(word) == []
    assert await phone.say("KHPS113-000043") == "請輸入身分證號（例：A123456789）。"
