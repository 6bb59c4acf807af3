"""On Telegram: a chat that was told 「驗證碼已經成功送出。」 is
told again when that SMS cannot be delivered, may ask for a new code at once, and an
operator's /pass shows the last delivery problem.

The SMS sender here is a fake of our port that the provider refuses every message to
(Twilio's 21614, "not a mobile number"): a permanent error, which fails the row at
once. Holders and operators talk to the app over its webhook; what they are told is
read from FakeTelegram.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.background.failure_notices import FAILURE_NOTICES
from bot.providers.sender import PermanentFailure, SendResult
from fakes.telegram_api import FakeTelegram
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_outbox_worker import request_code  # an SMS holder's request
from tests.e2e.telegram.fixtures import PASS_NO, TelegramUser

HOLDER, OPERATOR = 555_000_111, 710_000_001
SENT = "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證（24小時內有效）。"
NOTICE = (
    f"通行證 {PASS_NO} 的驗證碼簡訊沒有送到 0960-***-411（簡訊無法發送 (21614)）。"
    "這次的申請已取消，您可以立即重新申請驗證碼。"
)


class RefusingSender:
    """The provider refuses every number: a permanent error for each SMS."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    async def send(self, to: str, body: str) -> SendResult:
        self.tried.append(to)
        return PermanentFailure(21614, "'To' number is not a mobile number")

    async def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def sender() -> RefusingSender:  # replaces the console sender in make_client
    return RefusingSender()


async def told(fake: FakeTelegram, chat: int, text: str) -> list[dict[str, Any]]:
    """Wait (the notice follows the failure at once) for ``text`` in ``chat``."""
    async with asyncio.timeout(5.0):
        while True:
            found = [m for m in fake.sent_messages(chat) if m["text"] == text]
            if found:
                return found
            await asyncio.sleep(0.01)


async def test_a_holder_is_told_on_telegram_when_the_code_cannot_be_sent_and_may_ask_again(
    client: AppClient, fake: FakeTelegram, sender: RefusingSender
) -> None:
    user = TelegramUser(client, fake, HOLDER)
    question = await user.verify_until_confirm()
    [sent] = await user.press(question, f"c:confirm:{PASS_NO}")
    assert sent["text"] == SENT

    [notice] = await told(fake, HOLDER, NOTICE)

    assert sender.tried == ["+886960123411"]
    # Told once: another round of the notices finds nothing left to tell.
    assert await client.app[FAILURE_NOTICES].run_once() == 0
    assert len([m for m in fake.sent_messages(HOLDER) if m["text"] == NOTICE]) == 1
    # The request was released with the failure: a new code may be asked for now.
    question = await user.verify_until_confirm()
    [again] = await user.press(question, f"c:confirm:{PASS_NO}")
    assert again["text"] == SENT
    assert notice["chat_id"] == HOLDER


async def test_an_operator_is_told_in_their_chat_and_pass_shows_the_error(
    client: AppClient, fake: FakeTelegram
) -> None:
    lifecycle = services_of(client).operator_lifecycle
    _, code = await lifecycle.add_operator("王小明", "高雄港測試業者")
    operator = TelegramUser(client, fake, OPERATOR)
    await operator.say(f"/link {code.code}")
    [question] = await operator.say(f"/send {PASS_NO}")
    [[confirm, _cancel]] = question["reply_markup"]["inline_keyboard"]
    await operator.press(question, confirm["callback_data"])

    await told(fake, OPERATOR, NOTICE)

    [view] = await operator.say(f"/pass {PASS_NO}")
    assert "簡訊狀態：簡訊無法發送 (21614)" in view["text"]


async def test_a_holder_texting_by_sms_gets_no_telegram_message(
    client: AppClient, fake: FakeTelegram, sender: RefusingSender
) -> None:
    """Nothing for SMS: the holder's only channel is the phone that cannot be reached."""
    await request_code(services_of(client))
    async with asyncio.timeout(5.0):
        while not sender.tried:  # noqa: ASYNC110 - polling what the fake recorded
            await asyncio.sleep(0.01)
    await client.app[FAILURE_NOTICES].run_once()

    assert fake.sent_messages() == []
