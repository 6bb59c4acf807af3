"""A phone that texted STOP gets no code, whoever asks for it from Telegram: the holder's
chat and the operator's ``/send`` are told why, and how the phone opts back in. The
phone opts out the way it really does, by a signed SMS into the same app."""

from __future__ import annotations

import csv
import io

import pytest

from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import Handset
from tests.e2e.telegram.fixtures import PASS_NO, PHONE_E164, TelegramUser, outbox_bodies

OPTED_OUT = (
    "此手機號碼已退訂本服務的簡訊，無法發送驗證碼。請用該手機傳送 START 到本服務的簡訊號碼，"
    "恢復接收後再重新取得驗證碼。"
)
OPTED_OUT_EN = (
    "This phone has opted out of our SMS, so no code can be sent to it. To opt back in, "
    "text START from that phone to our SMS number, then ask for a code again."
)
KH = "高雄港測試業者"
HOLDER_CHAT, OPERATOR_CHAT = 555_000_222, 710_000_009
NEW_E164 = "+886912345678"


@pytest.fixture
def ids() -> UpdateIds:
    return UpdateIds()


@pytest.fixture
def holder(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> TelegramUser:
    return TelegramUser(client, fake, HOLDER_CHAT, ids=ids)


@pytest.fixture
async def operator(client: AppClient, fake: FakeTelegram, ids: UpdateIds) -> TelegramUser:
    _, code = await services_of(client).operator_lifecycle.add_operator("王小明", KH)
    user = TelegramUser(client, fake, OPERATOR_CHAT, ids=ids)
    await user.say(f"/link {code.code}")
    return user


@pytest.fixture
async def handset(client: AppClient) -> Handset:
    """KHPS113-000043's phone on file, which has texted STOP."""
    phone = Handset(client, PHONE_E164)
    assert await phone.send("STOP") == []
    return phone


async def test_a_holder_asking_for_a_code_at_an_opted_out_phone_is_told_to_send_start(
    client: AppClient, holder: TelegramUser, handset: Handset
) -> None:
    question = await holder.verify_until_confirm()

    [refused] = await holder.press(question, f"c:confirm:{PASS_NO}")

    assert refused["text"] == OPTED_OUT
    assert await outbox_bodies(services_of(client)) == []
    await handset.send("START")  # back in: the same question now sends the code
    question = await holder.verify_until_confirm()
    [sent] = await holder.press(question, f"c:confirm:{PASS_NO}")
    assert sent["text"].startswith("驗證碼已經成功送出。請輸入")


async def test_an_english_holder_is_told_in_english(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, handset: Handset
) -> None:
    holder = TelegramUser(client, fake, HOLDER_CHAT, language_code="en", ids=ids)
    question = await holder.verify_until_confirm()

    [refused] = await holder.press(question, f"c:confirm:{PASS_NO}")

    assert refused["text"] == OPTED_OUT_EN


async def test_an_operators_send_to_an_opted_out_phone_is_refused_before_the_question(
    client: AppClient, operator: TelegramUser, handset: Handset
) -> None:
    [refused] = await operator.say(f"/send {PASS_NO}")

    assert refused["text"] == OPTED_OUT
    assert refused.get("reply_markup") is None  # no question to confirm
    assert await outbox_bodies(services_of(client)) == []


async def test_an_operator_may_still_send_to_a_new_phone_that_did_not_opt_out(
    client: AppClient, operator: TelegramUser, fake: FakeTelegram, handset: Handset
) -> None:
    [question] = await operator.say(f"/send {PASS_NO} 0912345678")
    data = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    await operator.press(question, data)

    shown = fake.message(OPERATOR_CHAT, question["message_id"])
    assert shown is not None and shown["text"].startswith("驗證碼已經成功送出。")
    assert len(await outbox_bodies(services_of(client), NEW_E164)) == 1


async def test_an_opt_out_between_question_and_answer_still_sends_nothing(
    client: AppClient, operator: TelegramUser, fake: FakeTelegram
) -> None:
    [question] = await operator.say(f"/send {PASS_NO}")
    assert await Handset(client, PHONE_E164).send("STOP") == []
    data = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    await operator.press(question, data)

    shown = fake.message(OPERATOR_CHAT, question["message_id"])
    assert shown is not None and shown["text"] == OPTED_OUT
    assert await outbox_bodies(services_of(client)) == []


# --- what operators see ---------------------------------------------------------------------


async def test_pass_shows_opted_out_next_to_the_status(
    operator: TelegramUser, handset: Handset
) -> None:
    [reply] = await operator.say(f"/pass {PASS_NO}")

    assert "是否驗證：未驗證（已退訂）" in reply["text"].splitlines()


async def test_passes_marks_only_the_rows_whose_phone_opted_out(
    client: AppClient, operator: TelegramUser
) -> None:
    assert await Handset(client, "+886912345618").send("STOP") == []  # KHPS113-000030

    [page] = await operator.say("/passes 未驗證")

    marked = [line for line in page["text"].splitlines() if "已退訂" in line]
    assert marked == ["KHPS113-000030　未驗證（已退訂）"]


async def test_an_english_operator_reads_opted_out(
    client: AppClient, fake: FakeTelegram, ids: UpdateIds, handset: Handset
) -> None:
    _, code = await services_of(client).operator_lifecycle.add_operator("Wang", KH)
    english = TelegramUser(client, fake, OPERATOR_CHAT + 1, language_code="en", ids=ids)
    await english.say(f"/link {code.code}")

    [reply] = await english.say(f"/pass {PASS_NO}")

    assert "Status: unverified (opted out)" in reply["text"].splitlines()


async def test_opting_back_in_clears_the_mark(operator: TelegramUser, handset: Handset) -> None:
    await handset.send("START")

    [reply] = await operator.say(f"/pass {PASS_NO}")

    assert "是否驗證：未驗證" in reply["text"].splitlines()


async def test_export_marks_opted_out_next_to_the_status(
    operator: TelegramUser, fake: FakeTelegram, handset: Handset
) -> None:
    await operator.say("/export")

    [document] = fake.documents(OPERATOR_CHAT)
    rows = list(csv.reader(io.StringIO(document["content"].decode("utf-8-sig"), newline="")))
    statuses = {row[0]: row[5] for row in rows[1:]}
    assert statuses[PASS_NO] == "未驗證（已退訂）"
    assert statuses["KHPS113-000040"] == "未驗證（已退訂）"  # the same phone on file
    assert statuses["KHPS113-000030"] == "未驗證"
