"""A holder verifies a pass in a Telegram chat: real Update JSON into the app's webhook,
real PTB client out to FakeTelegram; the assertions are what the user sees."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import Config, load_config
from core.model import Channel, Requester
from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds, message_update
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    PHONE,
    TelegramUser,
    latest_code,
    latest_link_token,
    outbox_bodies,
    post_update,
    telegram_env,
    texts,
)

USER = 555_000_111

ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
ASK_ID = "請輸入身分證號（例：A123456789）。"
CONFIRM = f"確定要取得{PASS_NO}人員通行證的手機驗證碼??"
SENT = "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證（24小時內有效）。"
CANCELLED = "已取消。需要驗證時，請再傳送「驗證」。"
NOT_OWN = "只能分享您自己的手機號碼。請輸入手機號碼（例：0912345678）。"
# The buttons name the pass their question is about (a stale button cannot answer a
# later question).
CONFIRM_DATA, CANCEL_DATA = f"c:confirm:{PASS_NO}", f"c:cancel:{PASS_NO}"
CONFIRM_BUTTONS = {
    "inline_keyboard": [
        [
            {"text": "確定", "callback_data": CONFIRM_DATA},
            {"text": "取消", "callback_data": CANCEL_DATA},
        ]
    ]
}
SHARE_KEYBOARD = {
    "keyboard": [[{"text": "分享我的手機號碼", "request_contact": True}]],
    "resize_keyboard": True,
    "one_time_keyboard": True,
}


@pytest.fixture
def user(client: AppClient, fake: FakeTelegram) -> TelegramUser:
    return TelegramUser(client, fake, USER)


async def test_typed_phone_inline_confirm_and_code(user: TelegramUser, fake: FakeTelegram) -> None:
    [_greeting, welcome] = await user.say("/start")
    [ask_id] = await user.say(PASS_NO)
    [ask_phone] = await user.say(ID_NO)
    [question] = await user.say(PHONE)

    assert welcome["text"] == ASK_PASS
    assert ask_id["text"] == ASK_ID
    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼（例：0912345678）")
    assert ask_phone["reply_markup"] == SHARE_KEYBOARD
    assert question["text"] == CONFIRM
    assert question["reply_markup"] == CONFIRM_BUTTONS

    [sent] = await user.press(question, CONFIRM_DATA)

    assert sent["text"] == SENT  # "sent" and "enter the code" in one message
    assert sent["reply_markup"] == {"remove_keyboard": True}  # the share keyboard goes away
    [answer] = fake.callback_answers()
    assert answer["callback_query_id"]
    [edit] = fake.edits(USER)  # the buttons are taken off the question
    assert edit["method"] == "editMessageReplyMarkup"
    assert edit["message_id"] == question["message_id"]
    assert edit["reply_markup"] is None

    code = await latest_code(user.client)
    [verified] = await user.say(code)

    assert verified["text"] == f"手機驗證完成！通行證 {PASS_NO} 的手機 0960-123-411 已完成驗證。"
    [status] = await user.say("/status")
    assert status["text"] == "KHPS113-**0043：已驗證"


async def test_a_second_tap_on_confirm_sends_no_second_code(user: TelegramUser) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)

    again = await user.press(question, CONFIRM_DATA)

    assert SENT not in texts(again)
    assert len(await outbox_bodies(services_of(user.client))) == 1


async def test_shared_contact_of_the_sender_is_accepted(user: TelegramUser) -> None:
    await user.say("/verify")
    await user.say(PASS_NO)
    await user.say(ID_NO)

    [question] = await user.share_contact("886960123411", own=True)

    assert question["text"] == CONFIRM
    assert question["reply_markup"] == CONFIRM_BUTTONS
    [sent] = await user.press(question, CONFIRM_DATA)
    assert sent["text"] == SENT
    assert sent["reply_markup"] == {"remove_keyboard": True}


async def test_shared_contact_of_someone_else_is_refused(user: TelegramUser) -> None:
    await user.say("/start")
    await user.say(PASS_NO)
    await user.say(ID_NO)

    [refused] = await user.share_contact("+886960123411", own=False)

    assert refused["text"] == NOT_OWN
    assert refused["reply_markup"] == SHARE_KEYBOARD  # offered again: their own number
    [question] = await user.say(PHONE)  # typing it still works
    assert question["text"] == CONFIRM


async def test_cancel_by_button(user: TelegramUser) -> None:
    question = await user.verify_until_confirm()

    [cancelled] = await user.press(question, CANCEL_DATA)

    assert cancelled["text"] == CANCELLED
    assert cancelled["reply_markup"] == {"remove_keyboard": True}
    assert await outbox_bodies(services_of(user.client)) == []


async def test_cancel_by_command(user: TelegramUser) -> None:
    await user.say("/start")
    await user.say(PASS_NO)

    [cancelled] = await user.say("/cancel")
    [after] = await user.say(ID_NO)

    assert cancelled["text"] == CANCELLED
    assert after["text"].startswith("傳送「驗證」開始手機驗證")  # no conversation any more


async def test_wrong_code_then_the_right_one(user: TelegramUser) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    code = await latest_code(user.client)
    wrong = "000000" if code != "000000" else "111111"

    [refused] = await user.say(wrong)
    [verified] = await user.say(code)

    assert refused["text"] == "驗證碼不正確，還可以再試 4 次。"
    assert verified["text"].startswith("手機驗證完成！")


async def test_code_typed_after_it_expired(
    make_client: Callable[..., Awaitable[AppClient]],
    config_env: dict[str, str],
    fake: FakeTelegram,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    # The conversation must outlive the code for the code to reach the check at all.
    env = config_env | telegram_env(fake)
    env |= {"PORTPASS_VERIFICATION_CODE_TTL_HOURS": "1"}
    env |= {"PORTPASS_VERIFICATION_CONVERSATION_IDLE_MINUTES": "1440"}
    client = await make_client(load_config(None, env, cwd=tmp_path))
    user = TelegramUser(client, fake, USER)
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    code = await latest_code(client)

    clock.advance(hours=1, seconds=1)
    [expired] = await user.say(code)

    assert expired["text"] == "驗證碼已超過24小時有效時限。請傳送「驗證」重新取得新的驗證碼。"


async def test_code_typed_a_day_later_says_it_expired(user: TelegramUser, clock: FakeClock) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    code = await latest_code(user.client)

    clock.advance(hours=24, seconds=1)
    replies = await user.say(code)

    assert "驗證碼已超過24小時有效時限。請傳送「驗證」重新取得新的驗證碼。" in texts(replies)


async def test_link_confirmed_instead_of_the_code(user: TelegramUser) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    token = await latest_link_token(user.client)
    services = services_of(user.client)
    web = Requester(key="web:test", channel=Channel.WEB, actor="web")

    verified = await services.verification.confirm_link(web, token)
    [late_code] = await user.say(await latest_code(user.client))

    assert verified.pass_no.value == PASS_NO
    assert late_code["text"] == "此驗證碼已使用過，手機已完成驗證。"


async def test_status_after_link_confirmation(user: TelegramUser) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    token = await latest_link_token(user.client)
    web = Requester(key="web:test", channel=Channel.WEB, actor="web")
    await services_of(user.client).verification.confirm_link(web, token)

    [status] = await user.say("/status")

    assert status["text"] == "KHPS113-**0043：已驗證"


async def test_a_restarted_app_continues_the_conversation(
    make_client: Callable[..., Awaitable[AppClient]],
    config: Config,
    fake: FakeTelegram,
) -> None:
    ids = UpdateIds()
    first = TelegramUser(await make_client(config), fake, USER, ids=ids)
    await first.say("/start")
    await first.say(PASS_NO)
    await first.client.close()  # the process stops mid-conversation

    second = TelegramUser(await make_client(config), fake, USER, ids=ids)
    [ask_phone] = await second.say(ID_NO)
    [question] = await second.say(PHONE)
    [sent] = await second.press(question, CONFIRM_DATA)
    [verified] = await second.say(await latest_code(second.client))

    assert ask_phone["reply_markup"] == SHARE_KEYBOARD
    assert sent["text"] == SENT
    assert verified["text"].startswith("手機驗證完成！")


async def test_lang_switches_between_chinese_and_english(user: TelegramUser) -> None:
    """/lang offers the languages as buttons (tests/e2e/telegram/test_telegram_languages.py
    has all four); a question asked before the switch is asked again in the new one."""
    [menu] = await user.say("/lang")
    [english] = await user.press(menu, "c:lang:en")
    [_greeting, welcome] = await user.say("/start")
    await user.say(PASS_NO)
    [ask_phone] = await user.say(ID_NO)
    [menu] = await user.say("/lang")
    chinese, asked_again = await user.press(menu, "c:lang:zh-TW")

    assert english["text"] == "Switched to English."
    assert welcome["text"] == "Please type your pass number (for example KHPS113-000043)."
    assert ask_phone["reply_markup"]["keyboard"][0][0]["text"] == "Share my phone number"
    assert chinese["text"] == "已切換為中文。"
    assert asked_again["text"].startswith("請輸入通行證登錄的手機號碼")


async def test_an_english_telegram_user_is_answered_in_english(
    client: AppClient, fake: FakeTelegram
) -> None:
    user = TelegramUser(client, fake, USER + 7, language_code="en")

    [_greeting, welcome] = await user.say("/start")
    await user.say(PASS_NO)
    await user.say(ID_NO)
    [question] = await user.say(PHONE)

    assert welcome["text"] == "Please type your pass number (for example KHPS113-000043)."
    assert question["text"] == f"Get a verification code for pass {PASS_NO}?"
    labels = [b["text"] for b in question["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Confirm", "Cancel"]


async def test_status_before_any_verification(user: TelegramUser) -> None:
    [status] = await user.say("/status")

    assert status["text"] == "這個對話還沒有申請過通行證的驗證碼。傳送 /verify 開始手機驗證。"


async def test_failed_lookups_cool_down_the_chat(user: TelegramUser, clock: FakeClock) -> None:
    for _ in range(5):  # verification.lookup_failures_per_hour
        question = await user.verify_until_confirm(phone="0912000000")
        [refused] = await user.press(question, CONFIRM_DATA)
        assert refused["text"].startswith("查無人員通行證或手機資料，無法取得驗證碼！")

    [_greeting, cooling] = await user.say("/start")

    assert cooling["text"].startswith("查詢失敗次數過多，請於 ")
    other = TelegramUser(user.client, user.fake, USER + 1, ids=user.ids)
    assert (await other.say("/start"))[-1]["text"] == ASK_PASS  # per chat, not global
    clock.advance(hours=1, seconds=1)
    assert (await user.say("/start"))[-1]["text"] == ASK_PASS


async def test_group_chats_get_one_pointer_to_a_private_chat(
    client: AppClient, fake: FakeTelegram
) -> None:
    group = -1_001_234_567_890
    ids = UpdateIds()
    start = message_update(ids.next(), USER, "/start", chat_id=group, chat_type="supergroup")
    chatter = message_update(ids.next(), USER, PASS_NO, chat_id=group, chat_type="supergroup")
    other_bot = message_update(
        ids.next(), USER, "/start@other_bot", chat_id=group, chat_type="supergroup"
    )

    for update in (start, chatter, other_bot):
        assert await post_update(client, update) == 200

    assert texts(fake.sent_messages(group)) == [
        "為保護您的個人資料，請在與本機器人的私人對話中進行手機驗證。"
    ]


async def test_two_updates_of_one_chat_at_once_are_handled_one_after_the_other(
    user: TelegramUser, fake: FakeTelegram
) -> None:
    await user.say("/start")
    await user.say(PASS_NO)
    before = len(fake.sent_messages(USER))
    twice = [message_update(user.ids.next(), USER, ID_NO) for _ in range(2)]

    statuses = await asyncio.gather(*(post_update(user.client, update) for update in twice))

    assert statuses == [200, 200]
    # The second ID number arrives when a phone is expected: it was not lost in a race
    # where both updates read the same state.
    replies = texts(fake.sent_messages(USER)[before:])
    assert replies[0].startswith("請輸入通行證登錄的手機號碼")
    assert replies[1] == "手機號碼格式不正確，請輸入如 0912345678 的臺灣手機號碼。"
    assert replies[2].startswith("請輸入通行證登錄的手機號碼")


async def test_help(user: TelegramUser) -> None:
    [help_] = await user.say("/help")

    assert help_["text"].startswith("港區通行證手機驗證：")


async def test_a_button_under_an_older_question_sends_nothing(user: TelegramUser) -> None:
    old = await user.verify_until_confirm()
    await user.say("/cancel")
    await user.verify_until_confirm(pass_no="KHPS113-000040", id_no="QQ12345671")

    stale = await user.press(old, CONFIRM_DATA)

    assert "這個按鈕屬於較早的問題" in texts(stale)[0]
    assert await outbox_bodies(services_of(user.client)) == []


# --- invisible marks and other digits, someone else's code ----


def _devanagari(code: str) -> str:
    return "".join(chr(ord("०") + int(d)) for d in code)


async def test_an_id_with_a_direction_mark_and_a_code_in_devanagari_digits_verify(
    user: TelegramUser,
) -> None:
    await user.say("/start")
    await user.say(PASS_NO + "\u200b")
    [ask_phone] = await user.say(ID_NO + "\u200f")  # as an Arabic keyboard leaves it
    [question] = await user.say(PHONE)
    await user.press(question, CONFIRM_DATA)

    [verified] = await user.say(_devanagari(await latest_code(user.client)))

    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼")
    assert verified["text"] == f"手機驗證完成！通行證 {PASS_NO} 的手機 0960-123-411 已完成驗證。"


async def test_a_stranger_who_knows_pass_id_and_phone_cannot_lock_the_holder_out(
    user: TelegramUser, fake: FakeTelegram
) -> None:
    question = await user.verify_until_confirm()
    await user.press(question, CONFIRM_DATA)
    code = await latest_code(user.client)
    stranger = TelegramUser(user.client, fake, USER + 66, ids=user.ids)

    stranger_question = await stranger.verify_until_confirm()
    told = await stranger.press(stranger_question, CONFIRM_DATA)
    guesses = [await stranger.say(f"{n:06d}") for n in range(6) if f"{n:06d}" != code]

    assert told[0]["text"].startswith("這組通行證號、身分證號與手機號碼的驗證碼已經發送")
    assert "點擊簡訊中的連結" in told[0]["text"]
    assert texts(guesses[4])[0].startswith("驗證碼錯誤次數過多，這裡不能再輸入這個驗證碼。")
    assert all(SENT not in texts(reply) for reply in guesses)
    assert len(await outbox_bodies(services_of(user.client))) == 1  # no second code
    [verified] = await user.say(code)  # the holder's five tries are all still there
    assert verified["text"].startswith("手機驗證完成！")


async def test_a_stranger_is_told_in_english_too(client: AppClient, fake: FakeTelegram) -> None:
    holder = TelegramUser(client, fake, USER)
    await holder.press(await holder.verify_until_confirm(), CONFIRM_DATA)
    stranger = TelegramUser(client, fake, USER + 67, language_code="en", ids=holder.ids)

    told = await stranger.press(await stranger.verify_until_confirm(), CONFIRM_DATA)

    assert told[0]["text"].startswith("A code for this pass, ID and phone was already sent")
    assert "open the link in the SMS" in told[0]["text"]


# --- forgiving input ------------------------------------------------------------


async def test_the_check_digit_question_is_answered_by_saying_the_number_is_right(
    user: TelegramUser,
) -> None:
    await user.say("/verify")
    await user.say("KHPS113-000041")
    [question] = await user.say("R123456788")
    [ask_phone] = await user.say("確定")

    assert question["text"] == (
        "身分證號 R123456788 最後一碼好像不對，可能打錯了。"
        "請再確認一次；若號碼無誤，請回覆「確定」或 1"
        "（或再輸入一次同一號碼）。"
    )
    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼（例：0912345678）")
    assert ask_phone["reply_markup"] == SHARE_KEYBOARD


async def test_an_all_digit_id_is_refused_with_an_example(user: TelegramUser) -> None:
    await user.say("/verify")
    await user.say(PASS_NO)
    [refused] = await user.say("12345")

    assert refused["text"] == "身分證號與居留證號都以英文字母開頭，請輸入如 A123456789 的號碼。"


async def test_anything_but_yes_or_no_at_the_confirm_question_shows_the_buttons_again(
    user: TelegramUser,
) -> None:
    await user.verify_until_confirm()
    [again] = await user.say("hmm")

    assert again["text"] == f"沒有看懂這個回覆。要取得{PASS_NO}人員通行證的手機驗證碼嗎？"
    assert again["reply_markup"] == CONFIRM_BUTTONS
    [sent] = await user.press(again, CONFIRM_DATA)
    assert sent["text"] == SENT


async def test_a_whole_request_in_one_message_then_asks_for_the_phone(user: TelegramUser) -> None:
    [ask_phone] = await user.say(f"驗證 {PASS_NO} {ID_NO}")
    [question] = await user.say(PHONE)

    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼（例：0912345678）")
    assert ask_phone["reply_markup"] == SHARE_KEYBOARD
    assert question["text"] == CONFIRM
    assert question["reply_markup"] == CONFIRM_BUTTONS


async def test_help_in_english_is_answered_in_english(user: TelegramUser) -> None:
    [help_] = await user.say("help")

    assert help_["text"].startswith("Port pass phone verification: send VERIFY to start")
