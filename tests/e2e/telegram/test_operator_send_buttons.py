"""The /send confirm button cannot be forged into a phone oracle (docs/security.md,
"Operator buttons"): it carries a server-side handle, never a pass and phone the presser
could choose, and presses of handles the server did not give that operator cool them
down. Real Update JSON into the webhook, the real PTB client out to FakeTelegram, the
demo registry (TCPS113-000101 belongs to 臺中港測試公司, phone 0911-222-333)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.telegram.fixtures import PASS_NO, TelegramUser, outbox_bodies

JSONDict = dict[str, Any]

KH = "高雄港測試業者"
OTHER_PASS, OTHER_E164 = "TCPS113-000101", "+886911222333"  # another company's pass
SENT = "驗證碼已經成功送出。"
EXPIRED_BUTTON = "此按鈕已失效，請重新開始。"
COOL_DOWN = "查詢失敗次數過多"
PHONE_DIGITS = re.compile(r"9\d{8}")  # any Taiwan mobile, in any of its spellings


@pytest.fixture
async def linked(client: AppClient, fake: FakeTelegram) -> tuple[TelegramUser, str]:
    """An operator of 高雄港測試業者, linked from a private chat, and their id."""
    account, code = await services_of(client).operator_lifecycle.add_operator("王小明", KH)
    user = TelegramUser(client, fake, 720_000_001, ids=UpdateIds())
    [reply] = await user.say(f"/link {code.code}")
    assert reply["text"].startswith("已連結")
    return user, account.id


@pytest.fixture
def operator(linked: tuple[TelegramUser, str]) -> TelegramUser:
    return linked[0]


def confirm_data(question: JSONDict) -> str:
    [[confirm, _cancel]] = question["reply_markup"]["inline_keyboard"]
    return str(confirm["callback_data"])


def forged(question: JSONDict, data: str) -> JSONDict:
    """The question as a client that rewrote its confirm button would send it back."""
    markup = {"inline_keyboard": [[{"text": "確定", "callback_data": data}]]}
    return {**question, "reply_markup": markup}


def answered(fake: FakeTelegram, user: TelegramUser, question: JSONDict) -> str:
    current = fake.message(user.user_id, question["message_id"])
    assert current is not None
    return str(current["text"])


async def test_a_forged_phone_on_file_button_tells_nothing_about_the_phone(
    client: AppClient, fake: FakeTelegram, linked: tuple[TelegramUser, str]
) -> None:
    """A right and a wrong guess of another company's phone get the same answer, and
    neither texts anyone."""
    operator, operator_id = linked
    answers = []
    for guess in ("+886911222334", OTHER_E164):  # wrong, then right
        [question] = await operator.say(f"/send {OTHER_PASS}")
        data = f"op:s:{operator_id}:{OTHER_PASS}:d{guess}"  # the button's old layout
        await operator.press(forged(question, data), data)
        answers.append(answered(fake, operator, question))

    assert answers[0] == answers[1] == EXPIRED_BUTTON
    assert await outbox_bodies(services_of(client), OTHER_E164) == []


async def test_no_phone_in_any_send_button(operator: TelegramUser) -> None:
    [on_file] = await operator.say(f"/send {PASS_NO}")
    [new_number] = await operator.say(f"/send {PASS_NO} 0912-345-678")

    for question in (on_file, new_number):
        data = confirm_data(question)
        assert PHONE_DIGITS.search(data) is None, data
        assert PASS_NO not in data and len(data.encode()) <= 64


async def test_forged_presses_cool_the_operator_down(
    client: AppClient, fake: FakeTelegram, operator: TelegramUser
) -> None:
    """Ten presses of handles the server never gave: the eleventh press, even of a real
    question, is refused for an hour, and nothing is texted."""
    for n in range(10):
        [question] = await operator.say(f"/send {OTHER_PASS}")
        data = f"op:s:{n:022d}"
        await operator.press(forged(question, data), data)
        assert answered(fake, operator, question) == EXPIRED_BUTTON

    [real] = await operator.say(f"/send {OTHER_PASS}")
    await operator.press(real, confirm_data(real))

    assert answered(fake, operator, real).startswith(COOL_DOWN)
    assert await outbox_bodies(services_of(client), OTHER_E164) == []


async def test_a_real_question_still_sends_once(
    client: AppClient, fake: FakeTelegram, operator: TelegramUser
) -> None:
    [question] = await operator.say(f"/send {OTHER_PASS}")

    await operator.press(question, confirm_data(question))

    assert answered(fake, operator, question).startswith(SENT)
    assert "0911-***-333" in answered(fake, operator, question)  # R10: still masked
    assert len(await outbox_bodies(services_of(client), OTHER_E164)) == 1


async def test_a_question_can_be_answered_for_a_day(
    client: AppClient, clock: FakeClock, fake: FakeTelegram, operator: TelegramUser
) -> None:
    [question] = await operator.say(f"/send {OTHER_PASS}")
    clock.advance(hours=24, seconds=1)

    await operator.press(question, confirm_data(question))

    assert answered(fake, operator, question) == EXPIRED_BUTTON
    assert await outbox_bodies(services_of(client), OTHER_E164) == []
