"""Vietnamese and Indonesian on Telegram: /lang offers every language
by its own name, Telegram's language_code picks one at /start, and each has its command
menu. Real PTB against the fake Bot API, over the app's real webhook."""

from __future__ import annotations

import re

import pytest

from fakes.telegram_api import FakeTelegram
from tests.e2e.conftest import AppClient
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    PHONE,
    TelegramUser,
    outbox_bodies,
    services_of,
    texts,
)

USER = 555_000_400
CONFIRM_DATA = f"c:confirm:{PASS_NO}"


@pytest.fixture
def user(client: AppClient, fake: FakeTelegram) -> TelegramUser:
    return TelegramUser(client, fake, USER + 10)


def buttons(message: dict[str, object]) -> list[tuple[str, str]]:
    markup = message["reply_markup"]
    assert isinstance(markup, dict)
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


async def test_lang_offers_every_language_named_in_its_own_words(user: TelegramUser) -> None:
    [menu] = await user.say("/lang")

    assert menu["text"] == "請選擇語言："
    assert buttons(menu) == [
        ("繁體中文", "c:lang:zh-TW"),
        ("English", "c:lang:en"),
        ("Tiếng Việt", "c:lang:vi"),
        ("Bahasa Indonesia", "c:lang:id"),
    ]
    # Two to a row: four names in one row would be cut short on a phone.
    assert [len(row) for row in menu["reply_markup"]["inline_keyboard"]] == [2, 2]


async def test_a_holder_verifies_in_vietnamese_after_lang(
    client: AppClient, user: TelegramUser
) -> None:
    await user.say("/start")
    [menu] = await user.say("/lang")
    switched, ask_pass = await user.press(menu, "c:lang:vi")
    [ask_id] = await user.say(PASS_NO)
    [ask_phone] = await user.say(ID_NO)
    [question] = await user.say(PHONE)
    sent = await user.press(question, CONFIRM_DATA)
    [sms] = await outbox_bodies(services_of(client))
    code = re.search(r", ma (\d{6}),", sms)
    assert code is not None, sms
    [verified] = await user.say(code.group(1))

    assert switched["text"].startswith("Đã chuyển sang tiếng Việt.")
    assert ask_pass["text"] == "Vui lòng nhập số thẻ ra vào (ví dụ KHPS113-000043)."
    assert ask_id["text"].startswith("Vui lòng nhập số ID")
    assert ask_phone["reply_markup"]["keyboard"][0][0]["text"] == "Chia sẻ số điện thoại của tôi"
    assert question["text"] == f"Lấy mã xác minh cho thẻ ra vào {PASS_NO}?"
    assert [label for label, _ in buttons(question)] == ["Xác nhận", "Hủy"]
    assert texts(sent) == [
        "Đã gửi mã. Hãy nhập mã 6 chữ số trong SMS, hoặc mở đường dẫn trong SMS để xác minh "
        "(hiệu lực 24 giờ)."
    ]
    # The SMS in the holder's language, without diacritics: GSM-7, one segment.
    assert "the ra vao cang: the so cuoi 0043, ma " in sms
    assert verified["text"].startswith(f"Đã xác minh! Thẻ {PASS_NO}")


async def test_a_holder_switches_to_indonesian_mid_question_and_is_asked_again(
    user: TelegramUser,
) -> None:
    await user.say("/start")
    await user.say(PASS_NO)
    [menu] = await user.say("/lang")
    switched, ask_id = await user.press(menu, "c:lang:id")
    [ask_phone] = await user.say(ID_NO)

    assert switched["text"].startswith("Beralih ke Bahasa Indonesia.")
    assert ask_id["text"] == "Silakan ketik nomor ID Anda (nomor ARC, contoh A123456789)."
    assert ask_phone["text"].startswith("Silakan ketik nomor HP yang terdaftar")


async def test_telegram_language_code_picks_vietnamese_or_indonesian_at_start(
    client: AppClient, fake: FakeTelegram
) -> None:
    vietnamese = TelegramUser(client, fake, USER, language_code="vi")
    indonesian = TelegramUser(client, fake, USER + 1, language_code="id", ids=vietnamese.ids)

    vi_greeting, vi_ask = await vietnamese.say("/start")
    id_greeting, id_ask = await indonesian.say("/start")

    assert vi_greeting["text"].startswith("Xin chào, đây là dịch vụ xác minh số điện thoại")
    assert vi_ask["text"] == "Vui lòng nhập số thẻ ra vào (ví dụ KHPS113-000043)."
    assert id_greeting["text"].startswith("Halo, ini layanan verifikasi nomor HP kartu pas")
    assert id_ask["text"] == "Silakan ketik nomor kartu pas Anda (contoh KHPS113-000043)."


async def test_holders_get_a_menu_in_vietnamese_and_indonesian_at_start_up(
    client: AppClient, fake: FakeTelegram
) -> None:
    private = {"type": "all_private_chats"}

    vi = {c["command"]: c["description"] for c in fake.commands(private, "vi")}
    id_ = {c["command"]: c["description"] for c in fake.commands(private, "id")}

    assert list(vi) == list(id_) == ["start", "verify", "status", "cancel", "lang", "help"]
    assert vi["start"] == "Bắt đầu xác minh số điện thoại"
    assert id_["start"] == "Mulai verifikasi nomor HP"
    assert vi["lang"] == "Đổi ngôn ngữ / Language"
