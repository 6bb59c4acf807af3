"""Input as people type it: a code pasted with its words, yes in any language, and a
sentence that asks to verify (core/conversation/words.py and each catalogue's words.toml)."""

from __future__ import annotations

import pytest

from core.conversation.words import WORDS, find_code
from core.model import Status
from core.status import status_of
from core.values import PassNumber
from tests.unit import test_conversation_engine as conversation
from tests.unit.test_conversation_engine import SMS, TG, code_in, say, texts

# The same engine and store as the conversation's own tests.
store = conversation.store
clock = conversation.clock
engine = conversation.engine


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("驗證碼726473", "726473"),
        ("驗證碼：２９３１７０", "293170"),
        ("code 123456", "123456"),
        ("mã 684384", "684384"),
        ("kode: 555123.", "555123"),
        ("【港務】通行證末四碼0043，驗證碼042917", "042917"),
    ],
)
def test_one_run_of_six_digits_is_the_code(typed, code):
    assert find_code(typed) == code


@pytest.mark.parametrize(
    "typed", ["KHPS113-000043", "123456 654321", "1234567", "0960123411", "QQ12345673", "abc"]
)
def test_a_pass_number_a_phone_or_two_codes_are_not_a_code(typed):
    assert find_code(typed) is None


@pytest.mark.parametrize("pasted", ["驗證碼{code}", "驗證碼：{code}", "code {code}", "mã {code}"])
async def test_a_code_pasted_with_its_words_verifies(engine, store, pasted):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    full_width = code_in(store).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    typed = pasted.format(code=full_width if "：" in pasted else code_in(store))
    done = await say(engine, SMS, typed)
    assert "完成驗證" in texts(done) or "驗證完成" in texts(done)
    assert status_of(store.record(PassNumber.parse("KHPS113-000043"))) is Status.VERIFIED


async def test_a_pasted_code_verifies_without_a_conversation(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673", "1")
    store.conversations.clear()
    await say(engine, SMS, f"驗證碼{code_in(store)}")
    assert status_of(store.record(PassNumber.parse("KHPS113-000043"))) is Status.VERIFIED


@pytest.mark.parametrize(
    "yes", ["好", "好的", "對", "是的", "OK", "ok!", "có", "Đúng", "ya", "oke", "好！", "可以"]
)
async def test_yes_in_any_language_at_the_confirm_question_sends_the_code(engine, store, yes):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    await say(engine, SMS, yes)
    assert len(store.outbox) == 1


@pytest.mark.parametrize("no", ["不要", "không", "tidak", "no"])
async def test_no_in_any_language_cancels(engine, store, no):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    await say(engine, SMS, no)
    assert store.outbox == []


@pytest.mark.parametrize(
    "sentence", ["我要驗證手機", "I want to verify", "tôi muốn xác minh", "saya mau verifikasi"]
)
async def test_a_sentence_asking_to_verify_starts_the_flow(engine, sentence):
    assert "KHPS113-000043" in texts(await say(engine, TG, sentence))


def test_a_longer_latin_word_is_not_a_start_word():
    assert not WORDS.starts("verifying nothing")
    assert WORDS.starts("please VERIFY me")


async def test_a_start_word_alone_restarts_even_at_the_confirm_question(engine, store):
    await say(engine, SMS, "驗證", "KHPS113-000043", "QQ12345673")
    assert "KHPS113-000043" in texts(await say(engine, SMS, "驗證"))
    assert "通行證號" in texts(await say(engine, SMS, "驗證"))


async def test_a_command_containing_a_start_word_is_not_a_start(engine):
    assert "通行證號（例" not in texts(await say(engine, TG, "/passes 未驗證"))
