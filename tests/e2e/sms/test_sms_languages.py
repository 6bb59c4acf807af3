"""Vietnamese and Indonesian by SMS: ``VI`` and ``ID`` switch, in any
case, at any step, through the real webhook. ``ID`` is never an ID number (a letter and
nine digits, or a legacy code), so at the ID question it is the switch as well, and the
question comes again in Indonesian."""

from __future__ import annotations

import pytest

from core.verification.sms_text import segments
from tests.e2e.conftest import AppClient
from tests.e2e.sms.test_sms_inbound import Handset, last_code, sms_to

PASS_NO, ID_NO = "KHPS113-000043", "QQ12345673"
VI_SET = "Đã chuyển sang tiếng Việt. (中文, EN hoặc ID để đổi ngôn ngữ khác.)"
ID_SET = "Beralih ke Bahasa Indonesia. (中文, EN atau VI untuk bahasa lain.)"
ID_ASK_PASS = "Silakan ketik nomor kartu pas Anda (contoh KHPS113-000043)."
ID_ASK_ID = "Silakan ketik nomor ID Anda (nomor ARC, contoh A123456789)."
ID_CONFIRM = (
    f"Minta kode verifikasi untuk kartu pas {PASS_NO}?\nBalas 1 untuk kirim kode, 2 untuk batal."
)
ID_ASK_CODE = "Silakan masukkan kode verifikasi 6 angka."


@pytest.fixture
def phone(client: AppClient) -> Handset:
    return Handset(client)


async def test_vi_switches_and_the_whole_conversation_is_in_vietnamese(client, phone):
    assert await phone.say("VI") == VI_SET
    assert await phone.say("VERIFY") == "Vui lòng nhập số thẻ ra vào (ví dụ KHPS113-000043)."
    assert (await phone.say(PASS_NO)).startswith("Vui lòng nhập số ID")
    assert await phone.say(ID_NO) == (
        f"Lấy mã xác minh cho thẻ ra vào {PASS_NO}?\nTrả lời 1 để nhận mã, 2 để hủy."
    )
    assert await phone.say("1") == (
        "Đã gửi mã. Hãy nhập mã 6 chữ số trong SMS, hoặc mở đường dẫn trong SMS để xác minh "
        "(hiệu lực 24 giờ)."
    )
    [sms] = await sms_to(client)
    # Without diacritics, as Vietnamese SMS usually are: GSM-7, two segments with the link.
    assert sms.startswith("Xac minh dien thoai the ra vao cang: the so cuoi 0043, ma ")
    assert "Khong dua ma cho ai" in sms  # do not share the code
    assert segments(sms).count == 2
    done = await phone.say(await last_code(client))
    assert done == f"Đã xác minh! Thẻ {PASS_NO} có số điện thoại đã xác minh 0960-123-411."
    assert await phone.say("中文") == "已切換為中文。"


async def test_id_in_lower_case_switches_to_indonesian(client, phone):
    assert await phone.say("id") == ID_SET
    assert await phone.say("verify", PASS_NO) == ID_ASK_ID
    assert await phone.say(ID_NO) == ID_CONFIRM
    assert await phone.say("1") == (
        "Kode sudah dikirim. Masukkan kode 6 angka dari SMS, atau buka tautannya untuk "
        "verifikasi (berlaku 24 jam)."
    )
    [sms] = await sms_to(client)
    assert sms.startswith("Verifikasi HP kartu pas pelabuhan: kartu akhiran 0043, kode ")
    done = await phone.say(await last_code(client))
    assert done.startswith(f"Terverifikasi! Kartu pas {PASS_NO}")


@pytest.mark.parametrize(
    ("before", "asked_again"),
    [
        ((), None),
        (("驗證",), ID_ASK_PASS),
        (("驗證", PASS_NO), ID_ASK_ID),
        (("驗證", PASS_NO, ID_NO), ID_CONFIRM),
        (("驗證", PASS_NO, ID_NO, "1"), ID_ASK_CODE),
    ],
    ids=["idle", "pass question", "ID question", "confirmation", "code question"],
)
@pytest.mark.parametrize("word", ["ID", "id", "Id", "ＩＤ"])
async def test_id_at_every_step_switches_and_asks_the_same_question_again(
    phone, before, asked_again, word
):
    if before:
        await phone.say(*before)
    answer = await phone.say(word)
    expected = ID_SET if asked_again is None else f"{ID_SET}\n{asked_again}"
    assert answer == expected


async def test_after_id_at_the_id_question_the_id_number_is_still_taken(phone):
    await phone.say("驗證", PASS_NO, "id")
    assert await phone.say(ID_NO) == ID_CONFIRM


async def test_a_pending_check_digit_question_survives_the_switch(phone):
    """``R123456788`` has a wrong check digit: after the switch, 1 still means "it is right"."""
    await phone.say("驗證", "KHPS113-000041", "R123456788")
    assert (
        await phone.say("VI")
        == f"{VI_SET}\nVui lòng nhập số ID của bạn (số thẻ cư trú ARC, ví dụ A123456789)."
    )
    answer = await phone.say("1")
    assert answer.startswith("Lấy mã xác minh cho thẻ ra vào KHPS113-000041?")
