"""The shared holder conversation, as an SMS sender and a Telegram chat live it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.conversation.engine import ConversationEngine, DialoguePolicy
from core.conversation.state import (
    Choice,
    Conversation,
    Participant,
    Reply,
    SharedContact,
    Step,
    Text,
    Turn,
)
from core.model import Channel, Requester, Status
from core.status import status_of
from core.values import PassNumber
from core.verification.service import Policy, VerificationService
from fakes.clock import FakeClock
from fakes.ports import FakeUnitOfWorkFactory, Store

PHONE = "0960123411"
SMS = Participant(
    key="sms:+886960123411", channel="sms", actor="sms:0960-***-411", phone="+886960123411"
)
TG = Participant(
    key="telegram:42", channel="telegram", actor="telegram:42", language_hint="zh-hant"
)


@pytest.fixture
def store() -> Store:
    s = Store()
    s.add_pass("KHPS113-000043", "QQ12345673", "檢訊測試三", PHONE)
    s.add_pass("KHPS113-000040", "QQ12345671", "檢訊測試一", PHONE)
    s.add_pass("KHPS113-000041", "R123456788", "未通行八", PHONE)
    s.add_pass("KHPS113-000030", "A123456789", "阿金", "0912345618")
    return s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(store: Store, clock: FakeClock) -> ConversationEngine:
    uow = FakeUnitOfWorkFactory(store)
    service = VerificationService(
        uow, clock, SecretHasher(b"s" * 32), SystemSecrets(), Policy("https://pp.twport.tw")
    )
    return ConversationEngine(uow, clock, service, DialoguePolicy())


def texts(replies: Turn | Sequence[Reply]) -> str:
    shown = replies.replies if isinstance(replies, Turn) else replies
    return "\n".join(r.text for r in shown)


def code_in(store: Store) -> str:
    match = re.search(r"驗證碼(\d{6})", store.outbox[-1][0].body)
    assert match
    return match.group(1)


async def say(engine: ConversationEngine, who: Participant, *lines: str) -> list[Reply]:
    replies: list[Reply] = []
    for line in lines:
        replies = list((await engine.handle(who, Text(line))).replies)
    return replies


async def test_sms_walks_from_keyword_to_verified(engine, store):
    assert "通行證號" in texts(await say(engine, SMS, "驗證"))
    assert "身分證號" in texts(await say(engine, SMS, "ｋｈｐｓ１１３００００４３"))
    confirm = await say(engine, SMS, "qq12345673 ")
    assert "確定要取得KHPS113-000043人員通行證的手機驗證碼??" in texts(confirm)
    assert [o.value for o in confirm[-1].options] == [
        "confirm:KHPS113-000043",
        "cancel:KHPS113-000043",
    ]
    sent = await say(engine, SMS, "1")
    assert texts(sent) == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )
    done = await say(engine, SMS, code_in(store))
    assert "手機驗證完成" in texts(done)
    assert status_of(store.record(PassNumber.parse("KHPS113-000043"))) is Status.VERIFIED


async def test_sms_bare_code_reply_works_without_a_conversation(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    store.conversations.clear()  # e.g. the holder replies to the SMS days of chat later
    done = await say(engine, SMS, code_in(store))
    assert "手機驗證完成" in texts(done)


async def test_each_step_re_asks_with_an_example(engine):
    await say(engine, SMS, "驗證")
    bad_pass = await say(engine, SMS, "hello")
    assert "KHPS113-000043" in texts(bad_pass)
    await say(engine, SMS, "KHPS113-000043")
    bad_id = await say(engine, SMS, "???")
    assert "A123456789" in texts(bad_id)


async def test_id_with_a_wrong_check_digit_is_flagged_then_accepted_when_repeated(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000041")
    first = await say(engine, SMS, "R123456788")
    assert "最後一碼好像不對" in texts(first)
    assert store.failures == []  # no lookup was made
    second = await say(engine, SMS, "r123456788")
    assert "確定要取得KHPS113-000041" in texts(second)


async def test_cancel_at_any_step(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043")
    assert "已取消" in texts(await say(engine, SMS, "取消"))
    assert store.conversations[SMS.key].step is Step.IDLE
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    assert "已取消" in texts(await say(engine, SMS, "2"))
    assert store.outbox == []


async def test_mismatch_ends_with_the_guides_message(engine, store):
    replies = await say(engine, SMS, "驗證", "KHPS113-000030", "A123456789", "1")
    assert "查無人員通行證或手機資料，無法取得驗證碼！" in texts(replies)
    assert store.outbox == []
    assert store.conversations[SMS.key].step is Step.IDLE


async def test_five_failed_lookups_cool_down_the_sender(engine, store):
    for _ in range(5):
        await say(engine, SMS, "驗證", "KHPS113-000030", "A123456789", "1")
    replies = await say(engine, SMS, "驗證")
    assert "查詢失敗次數過多" in texts(replies)


async def test_wrong_code_says_how_many_tries_remain(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    wrong = f"{(int(code_in(store)) + 1) % 1000000:06d}"
    assert "還可以再試 4 次" in texts(await say(engine, SMS, wrong))
    assert "6位數字" in texts(await say(engine, SMS, "abc"))


async def test_expired_code_says_so(engine, store, clock):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    code = code_in(store)
    clock.advance(hours=24)
    assert "超過24小時" in texts(await say(engine, SMS, code))


async def test_idle_for_thirty_minutes_ends_the_conversation(engine, store, clock):
    await say(engine, SMS, "驗證", "KHPS113-000043")
    clock.advance(minutes=31)
    replies = await say(engine, SMS, "QQ12345673")
    assert "逾時" in texts(replies)
    assert store.conversations[SMS.key].step is Step.IDLE


async def test_state_is_stored_so_a_new_engine_continues(engine, store, clock):
    await say(engine, SMS, "驗證", "KHPS113-000043")
    uow = FakeUnitOfWorkFactory(store)
    service = VerificationService(
        uow, clock, SecretHasher(b"s" * 32), SystemSecrets(), Policy("https://pp.twport.tw")
    )
    restarted = ConversationEngine(uow, clock, service, DialoguePolicy())
    assert "確定要取得" in texts(await say(restarted, SMS, "QQ12345673"))


async def test_language_switch_and_help(engine):
    assert "Switched to English" in texts(await say(engine, SMS, "EN"))
    assert "pass number" in texts(await say(engine, SMS, "VERIFY"))
    assert "中文" in texts(await say(engine, SMS, "中文"))
    assert "驗證" in texts(await say(engine, SMS, "說明"))
    await say(engine, SMS, "取消")
    other = await say(engine, SMS, "hello there")
    lines = texts(other).splitlines()  # the short help, ending with the language words
    assert len(lines) == 3 and lines[-1].startswith("English: EN")


async def test_sms_status_shows_only_passes_on_file_for_the_sender(engine, store):
    replies = await say(engine, SMS, "狀態")
    body = texts(replies)
    assert "KHPS113-**0043：未驗證" in body
    assert "0030" not in body  # someone else's pass
    assert "KHPS113-000043" not in body  # masked


async def test_telegram_asks_for_the_phone_and_accepts_only_own_contact(engine, store):
    await say(engine, TG, "/start", "KHPS113-000043")
    ask = await say(engine, TG, "QQ12345673")
    assert ask[-1].ask_contact
    someone_else = await engine.handle(TG, SharedContact(phone="+886960123411", own=False))
    assert "只能分享您自己的手機號碼" in texts(someone_else)
    confirm = await engine.handle(TG, SharedContact(phone="+886960123411", own=True))
    assert "確定要取得" in texts(confirm)
    sent = await engine.handle(TG, Choice("confirm"))
    assert "驗證碼已經成功送出。" in texts(sent)
    await say(engine, TG, code_in(store))
    status = await say(engine, TG, "/status")
    assert "KHPS113-**0043：已驗證" in texts(status)


async def test_telegram_typed_phone_with_bad_input(engine):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673")
    bad = await say(engine, TG, "+1 650 253 0000")
    assert "臺灣手機號碼" in texts(bad)
    assert "確定要取得" in texts(await say(engine, TG, "0960-123-411"))


async def test_english_telegram_user_gets_english(engine):
    en = Participant(
        key="telegram:7", channel="telegram", actor="telegram:7", language_hint="en-US"
    )
    assert "pass number" in texts(await say(engine, en, "/start"))


async def test_conversation_round_trips_through_json():
    state = Conversation(
        step=Step.CONFIRM,
        language="en",
        pass_no="KHPS113-000043",
        own_passes=("KHPS113-000040",),
    )
    assert Conversation.from_json(state.to_json()) == state


async def test_pass_number_typed_as_id_is_caught_before_any_lookup(engine, store):
    await say(engine, TG, "/verify", "KHPS113-000043")
    replies = await say(engine, TG, "KHPS113-000043")
    assert "這是通行證號" in texts(replies)
    assert store.failures == []
    assert store.conversations[TG.key].step is Step.ASK_ID


async def test_waiting_for_a_code_outlives_the_idle_timeout(engine, store, clock):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(TG, Choice("confirm"))
    clock.advance(hours=3)  # far past the 30-minute idle timeout, well inside 24 h
    done = await say(engine, TG, code_in(store))
    assert "手機驗證完成" in texts(done)


async def test_telegram_status_covers_a_pass_verified_by_the_link(engine, store):
    assert "還沒有申請過" in texts(await say(engine, TG, "/status"))
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(TG, Choice("confirm"))
    assert "KHPS113-**0043：未驗證" in texts(await say(engine, TG, "/status"))
    token = re.search(r"/v/([A-Za-z0-9_-]+)", store.outbox[-1][0].body)
    assert token
    service = VerificationService(
        FakeUnitOfWorkFactory(store),
        FakeClock(),
        SecretHasher(b"s" * 32),
        SystemSecrets(),
        Policy("https://pp.twport.tw"),
    )
    await service.confirm_link(
        Requester(key="web:1", channel=Channel.WEB, actor="web"), token.group(1)
    )
    assert "KHPS113-**0043：已驗證" in texts(await say(engine, TG, "/status"))


async def test_a_retried_message_is_answered_again_without_acting_twice(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    first = await engine.handle(SMS, Text("1"), message_id="SM1")
    again = await engine.handle(SMS, Text("1"), message_id="SM1")
    assert again == first
    assert again.repeated and not first.repeated  # what metrics count as a duplicate
    assert texts(first) == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )
    assert len(store.outbox) == 1


async def test_a_failed_turn_leaves_no_claim_so_the_retry_acts(engine, store, monkeypatch):
    class Boom(Exception):
        pass

    async def broken(*args: object, **kwargs: object) -> None:
        raise Boom  # the database went away mid-turn

    monkeypatch.setattr(engine._verification, "ensure_not_cooling_down", broken)
    with pytest.raises(Boom):
        await engine.handle(SMS, Text("驗證"), message_id="SM2")
    monkeypatch.undo()
    replies = await engine.handle(SMS, Text("驗證"), message_id="SM2")
    assert "通行證號" in texts(replies)


async def test_a_button_from_an_older_question_does_not_answer_the_current_one(engine, store):
    old = await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    old_confirm = old[-1].options[0].value
    await say(engine, TG, "/cancel")
    await say(engine, TG, "/verify", "KHPS113-000040", "QQ12345671", PHONE)
    stale = await engine.handle(TG, Choice(old_confirm))
    assert "較早的問題" in texts(stale)
    assert "確定要取得KHPS113-000040" in texts(stale)  # asked again
    assert store.outbox == []
    current = stale.replies[-1].options[0].value
    assert "驗證碼已經成功送出。" in texts(await engine.handle(TG, Choice(current)))
    assert store.outbox[0][0].to.e164 == "+886960123411"


# --- other digits and invisible marks ----------------------------------


def in_digits(code: str, zero: str) -> str:
    """``code`` written with the digits that start at ``zero`` (٠ Arabic-Indic, ० Devanagari,
    ０ full-width)."""
    return "".join(chr(ord(zero) + int(d)) for d in code)


@pytest.mark.parametrize("zero", ["٠", "०", "０", "๐"])
async def test_a_right_code_in_other_digits_verifies_and_costs_no_try(engine, store, zero):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    done = await say(engine, SMS, in_digits(code_in(store), zero))
    assert "手機驗證完成" in texts(done)
    [request] = store.requests.values()
    assert request.failed_attempts == 0


async def test_a_bare_code_in_arabic_digits_with_a_direction_mark_verifies(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    store.conversations.clear()  # no conversation: the bare-code path
    done = await say(engine, SMS, "\u200f" + in_digits(code_in(store), "٠") + "\u200f")
    assert "手機驗證完成" in texts(done)


@pytest.mark.parametrize("mark", ["\u200f", "\u200b", "\ufeff"])
async def test_an_id_followed_by_an_invisible_mark_is_accepted(engine, store, mark):
    await say(engine, TG, "/verify", "KHPS113-000043" + mark)
    confirm_ask = await say(engine, TG, "QQ12345673" + mark)
    assert confirm_ask[-1].ask_contact  # on to the phone: the ID was taken
    assert "確定要取得KHPS113-000043" in texts(await say(engine, TG, mark + "0960123411" + mark))


# --- only whoever asked, or the phone, may enter a code -----------------

STRANGER = Participant(key="telegram:666", channel="telegram", actor="telegram:666")


async def test_a_stranger_who_knows_pass_id_and_phone_cannot_spend_the_holders_code(engine, store):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(TG, Choice("confirm"))
    code = code_in(store)

    await say(engine, STRANGER, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    told = await engine.handle(STRANGER, Choice("confirm"))
    assert "驗證碼已經發送到登記的手機（24小時內只發送一次）" in texts(told)
    assert len(store.outbox) == 1  # R2: no second SMS
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    answers = [texts(await say(engine, STRANGER, wrong)) for _ in range(6)]

    assert "驗證碼錯誤次數過多，這裡不能再輸入這個驗證碼" in answers[4]
    assert store.conversations[STRANGER.key].step is Step.IDLE  # not waiting any more
    [request] = store.requests.values()
    assert request.participants == {STRANGER.key: 5}  # the stranger's, not the holder's
    assert "手機驗證完成" in texts(await say(engine, TG, code))


async def test_the_holders_chat_asking_after_a_stranger_types_the_same_code(engine, store):
    await say(engine, STRANGER, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(STRANGER, Choice("confirm"))
    code = code_in(store)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        await say(engine, STRANGER, wrong)

    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    told = await engine.handle(TG, Choice("confirm"))

    assert "請在這裡輸入該簡訊中的6位數字驗證碼" in texts(told)
    assert store.conversations[TG.key].step is Step.AWAIT_CODE
    assert "手機驗證完成" in texts(await say(engine, TG, code))


async def test_the_phone_itself_may_reply_with_a_code_a_chat_asked_for(engine, store):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(TG, Choice("confirm"))
    again = await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    assert "24小時內已送過驗證碼" in texts(again)  # the phone is told to enter it
    assert "手機驗證完成" in texts(await say(engine, SMS, code_in(store)))


async def test_the_chat_that_asked_may_still_enter_its_code_after_asking_again(engine, store):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    await engine.handle(TG, Choice("confirm"))
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673", PHONE)
    again = await engine.handle(TG, Choice("confirm"))
    assert "請輸入該簡訊中的驗證碼" in texts(again)
    assert "手機驗證完成" in texts(await say(engine, TG, code_in(store)))


# --- the turn: all a channel needs, so it never reads the conversation again --------------


async def test_a_turn_carries_the_language_and_the_steps_the_channel_renders_with(engine):
    await say(engine, TG, "/verify", "KHPS113-000043", "QQ12345673")
    english = await engine.handle(TG, Text("EN"))
    assert (english.language, english.step) == ("en", Step.ASK_PHONE)
    question = await engine.handle(TG, Text(PHONE))
    assert question.language == "en"
    assert (question.previous_step, question.step) == (Step.ASK_PHONE, Step.CONFIRM)
    assert question.replies[-1].options  # the options hint must be in English
    cancelled = await engine.handle(TG, Choice("cancel"))
    assert (cancelled.previous_step, cancelled.step) == (Step.CONFIRM, Step.IDLE)


async def test_a_retried_message_gets_the_first_turn_with_its_language(engine, store):
    await say(engine, SMS, "EN", "VERIFY", "KHPS113-000043")
    first = await engine.handle(SMS, Text("QQ12345673"), message_id="SM3")
    await say(engine, SMS, "中文")  # the conversation's language changes afterwards
    again = await engine.handle(SMS, Text("QQ12345673"), message_id="SM3")
    assert again == first
    assert again.language == "en" and again.step is Step.CONFIRM


def test_a_reply_stored_before_turns_existed_is_still_answered():
    stored = json.loads('[{"text": "ok", "options": [], "ask_contact": false}]')
    assert Turn.from_json(stored, "zh-TW") == Turn((Reply("ok"),), "zh-TW")


# --- forgiving input -------------------------------------------------------

CHECKSUM_QUESTION = (
    "身分證號 R123456788 最後一碼好像不對，可能打錯了。請再確認一次；若號碼無誤，請回覆「確定」或 1"
    "（或再輸入一次同一號碼）。"
)
CONFIRM_41 = "確定要取得KHPS113-000041人員通行證的手機驗證碼??"


@pytest.mark.parametrize("answer", ["確定", "是", "1", "１", " 確定 "])
async def test_the_check_digit_question_is_answered_by_saying_the_number_is_right(
    engine, store, answer
):
    await say(engine, SMS, "驗證", "KHPS113-000041")
    assert texts(await say(engine, SMS, "R123456788")) == CHECKSUM_QUESTION
    assert texts(await say(engine, SMS, answer)) == CONFIRM_41
    assert store.conversations[SMS.key].id_no == "R123456788"


async def test_saying_the_number_is_right_without_a_check_digit_question_is_not_an_id(engine):
    await say(engine, SMS, "驗證", "KHPS113-000041")
    assert "A123456789" in texts(await say(engine, SMS, "確定"))


@pytest.mark.parametrize("typed", ["12345", "0960123411", "１２３４５６７８９０"])
async def test_an_all_digit_id_is_refused_with_an_example_before_any_lookup(engine, store, typed):
    await say(engine, SMS, "驗證", "KHPS113-000043")
    assert texts(await say(engine, SMS, typed)) == (
        "身分證號與居留證號都以英文字母開頭，請輸入如 A123456789 的號碼。"
    )
    assert store.conversations[SMS.key].step is Step.ASK_ID
    assert store.failures == []


async def test_an_all_digit_id_is_refused_in_english_too(engine):
    await say(engine, SMS, "EN", "VERIFY", "KHPS113-000043")
    assert texts(await say(engine, SMS, "12345")) == (
        "An ID number starts with a letter. Please type it like A123456789 (ID or resident "
        "certificate)."
    )


async def test_anything_but_yes_or_no_at_the_confirm_question_offers_the_choices_again(
    engine, store
):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    [again] = await say(engine, SMS, "maybe")
    assert again.text == "沒有看懂這個回覆。要取得KHPS113-000043人員通行證的手機驗證碼嗎？"
    assert [o.value for o in again.options] == ["confirm:KHPS113-000043", "cancel:KHPS113-000043"]
    assert store.outbox == []
    assert texts(await say(engine, SMS, "1")) == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )


@pytest.mark.parametrize(
    "message",
    [
        "驗證 KHPS113-000043 QQ12345673",
        "驗證KHPS113-000043 QQ12345673",
        "ＶＥＲＩＦＹ　ｋｈｐｓ１１３－００００４３　ｑｑ１２３４５６７３",
        "v khps113000043, qq12345673",
        "KHPS113-000043 QQ12345673",
        "KHPS113 000043 QQ12345673",
    ],
)
async def test_a_whole_request_in_one_message_goes_straight_to_the_confirm_question(
    engine, message
):
    [question] = await say(engine, SMS, message)
    assert question.text == "確定要取得KHPS113-000043人員通行證的手機驗證碼??"
    assert [o.action for o in question.options] == ["confirm", "cancel"]


async def test_a_whole_request_on_telegram_then_asks_for_the_phone(engine, store):
    [ask] = await say(engine, TG, "驗證 KHPS113-000043 QQ12345673")
    assert ask.ask_contact
    assert store.conversations[TG.key].step is Step.ASK_PHONE
    assert texts(await say(engine, TG, PHONE)) == "確定要取得KHPS113-000043人員通行證的手機驗證碼??"


async def test_a_whole_request_with_a_wrong_check_digit_questions_it_first(engine, store):
    assert texts(await say(engine, SMS, "驗證 KHPS113-000041 R123456788")) == CHECKSUM_QUESTION
    assert texts(await say(engine, SMS, "1")) == CONFIRM_41
    assert store.failures == []


async def test_a_whole_request_with_the_keyword_starts_over_mid_conversation(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    assert texts(await say(engine, SMS, "驗證 KHPS113-000041 R123456788")) == CHECKSUM_QUESTION
    assert texts(await say(engine, SMS, "確定")) == CONFIRM_41


async def test_a_whole_request_respects_the_cool_down(engine, store):
    for _ in range(5):
        await say(engine, SMS, "驗證", "KHPS113-000030", "A123456789", "1")
    answer = texts(await say(engine, SMS, "驗證 KHPS113-000043 QQ12345673"))
    assert answer.startswith("查詢失敗次數過多")
    assert store.conversations[SMS.key].step is Step.IDLE


async def test_help_in_english_in_a_chat_is_answered_in_english(engine):
    assert texts(await say(engine, TG, "help")) == (
        "Port pass phone verification: send VERIFY to start; reply with the 6-digit code "
        "from the SMS.\nSTATUS shows your status, send 2 to cancel. Language: ZH Chinese, "
        "VI Vietnamese, ID Indonesian."
    )
    assert texts(await say(engine, TG, "VERIFY")) == (
        "Please type your pass number (for example KHPS113-000043)."
    )


@pytest.mark.parametrize("word", ["help", "HELP", "info"])
async def test_help_over_sms_is_left_to_twilio(engine, store, word):
    """Twilio answers HELP and INFO on a long code itself: no second answer from us."""
    await say(engine, SMS, "驗證")
    assert await say(engine, SMS, word) == []
    assert store.conversations[SMS.key].step is Step.ASK_PASS


@pytest.mark.parametrize("word", ["說明", "?", "/help"])
async def test_the_bots_own_help_words_answer_in_the_conversations_language(engine, word):
    assert texts(await say(engine, SMS, word)).startswith("港區通行證手機驗證：")


async def test_stop_in_a_telegram_chat_opts_no_phone_out(engine, store):
    """Only an SMS sender's number can be opted out: a chat has no number to block."""
    await say(engine, TG, "STOP")
    assert store.opt_outs == {}
    assert store.audit == []


async def test_an_sms_stop_is_stored_and_silences_the_replies(engine, store):
    assert await say(engine, SMS, "STOP") == []
    assert [p.e164 for p in store.opt_outs] == [SMS.phone]
    assert await say(engine, SMS, "驗證") == []
    assert store.conversations[SMS.key].step is Step.ASK_PASS  # the turn still happened
    assert texts(await say(engine, SMS, "START")).endswith("You will receive our SMS again.")
    assert store.opt_outs == {}
    assert "通行證號" in texts(await say(engine, SMS, "驗證"))
