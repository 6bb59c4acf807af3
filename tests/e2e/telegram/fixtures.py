"""Helpers for Telegram end-to-end tests: the app talks to FakeTelegram, and a test plays
a Telegram user by posting real Update JSON to ``/telegram/webhook``.

Plain functions and classes rather than fixtures, so each test module declares the few
fixtures it needs in view of its tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.services import Services
from bot.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import (
    UpdateIds,
    callback_update,
    contact_update,
    message_update,
)
from tests.e2e.conftest import AppClient, sent_sms, services_of

WEBHOOK_SECRET = "e2e_webhook-SECRET_0123456789"

# The demo registry's holder of the guide's example pass (unverified at start).
PASS_NO, ID_NO, PHONE, PHONE_E164 = "KHPS113-000043", "QQ12345673", "0960123411", "+886960123411"

_CODE = re.compile(r"驗證碼(\d{6})|code (\d{6})")
_LINK_TOKEN = re.compile(r"/v/([A-Za-z0-9_-]+)")

JSONDict = dict[str, Any]


def telegram_env(fake: FakeTelegram, *, mode: str = "webhook") -> dict[str, str]:
    """What to add to ``config_env`` for the app to use ``fake`` as its Bot API."""
    env = {
        "TELEGRAM_BOT_TOKEN": fake.token,
        "PORTPASS_TELEGRAM_API_BASE_URL": fake.base_url,
        "PORTPASS_TELEGRAM_MODE": mode,
    }
    if mode == "webhook":
        env["PORTPASS_TELEGRAM_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    return env


async def post_update(
    client: AppClient, update: JSONDict, *, secret: str | None = WEBHOOK_SECRET
) -> int:
    """POST ``update`` as Telegram would; the app answers once it has been handled."""
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    response = await client.post(WEBHOOK_PATH, json=update, headers=headers)
    await response.read()
    return response.status


@dataclass
class TelegramUser:
    """One person in a private chat with the bot (chat id = user id)."""

    client: AppClient
    fake: FakeTelegram
    user_id: int
    language_code: str | None = "zh-hant"
    ids: UpdateIds = field(default_factory=UpdateIds)

    async def say(self, text: str) -> list[JSONDict]:
        """Send ``text``; return the messages the bot sent back."""
        return await self._send(
            message_update(self.ids.next(), self.user_id, text, language_code=self.language_code)
        )

    async def share_contact(self, phone: str, *, own: bool = True) -> list[JSONDict]:
        contact_user = self.user_id if own else self.user_id + 1
        return await self._send(
            contact_update(
                self.ids.next(), self.user_id, phone, contact_user, language_code=self.language_code
            )
        )

    async def press(self, message: JSONDict, data: str) -> list[JSONDict]:
        """Tap the inline button with ``data`` under the bot's ``message``."""
        markup = message["reply_markup"]
        datas = [button["callback_data"] for row in markup["inline_keyboard"] for button in row]
        assert data in datas, f"no button {data!r} in {datas}"
        update = callback_update(
            self.ids.next(),
            self.user_id,
            data,
            message["message_id"],
            message_text=message["text"],
            reply_markup=markup,
            language_code=self.language_code,
        )
        return await self._send(update)

    async def _send(self, update: JSONDict) -> list[JSONDict]:
        before = len(self.fake.sent_messages(self.user_id))
        assert await post_update(self.client, update) == 200
        return self.fake.sent_messages(self.user_id)[before:]

    async def verify_until_confirm(
        self, pass_no: str = PASS_NO, id_no: str = ID_NO, phone: str = PHONE
    ) -> JSONDict:
        """/start, pass, ID and a typed phone; return the confirmation question."""
        await self.say("/start")
        await self.say(pass_no)
        await self.say(id_no)
        [question] = await self.say(phone)
        return question


def texts(messages: list[JSONDict]) -> list[str]:
    return [message["text"] for message in messages]


async def outbox_bodies(services: Services, to: str = PHONE_E164) -> list[str]:
    """The SMS queued for ``to``, oldest first, as the phone shows them."""
    return await sent_sms(services, to)


async def latest_code(client: AppClient, to: str = PHONE_E164) -> str:
    bodies = await outbox_bodies(services_of(client), to)
    assert bodies, f"no SMS queued for {to}"
    match = _CODE.search(bodies[-1])
    assert match is not None, "no code in the SMS"
    return match.group(1) or match.group(2)


async def latest_link_token(client: AppClient, to: str = PHONE_E164) -> str:
    bodies = await outbox_bodies(services_of(client), to)
    match = _LINK_TOKEN.search(bodies[-1])
    assert match is not None, "no link in the SMS"
    return match.group(1)
