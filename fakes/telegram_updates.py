"""Builders of Update JSON as Telegram POSTs it to a webhook (Bot API 9.x shapes).

Each builder returns a plain ``dict``: feed it to ``telegram.Update.de_json(data, bot)``, post it
to the app's webhook route, or queue it on ``FakeTelegram`` for ``getUpdates``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

JSONDict = dict[str, Any]

DEFAULT_BOT_ID = 7000000001
DEFAULT_BOT_USERNAME = "portpass_test_bot"
DEFAULT_BOT_FIRST_NAME = "PortPass Verify (test)"
DEFAULT_TOKEN = f"{DEFAULT_BOT_ID}:AAFakeTokenForPortPassTests_0123456789"


class UpdateIds:
    """Hands out increasing update ids, as Telegram does: ``ids = UpdateIds(); ids.next()``."""

    def __init__(self, start: int = 100_000) -> None:
        self._next = start

    def next(self) -> int:
        value = self._next
        self._next += 1
        return value

    def __next__(self) -> int:
        return self.next()

    def __iter__(self) -> Iterator[int]:
        return self


def bot_user(bot_id: int = DEFAULT_BOT_ID, username: str = DEFAULT_BOT_USERNAME) -> JSONDict:
    """The bot as a ``User`` object (``getMe``'s result and ``from`` of the bot's messages)."""
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": DEFAULT_BOT_FIRST_NAME,
        "username": username,
        "can_join_groups": False,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def human_user(
    user_id: int,
    *,
    first_name: str = "測試",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "zh-hant",
) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name is not None:
        user["last_name"] = last_name
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def chat(chat_id: int, chat_type: str = "private", *, first_name: str = "測試") -> JSONDict:
    """A ``Chat``: private chats carry the user's name, groups a title."""
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": chat_type, "title": "PortPass test group"}


def command_entities(text: str) -> list[JSONDict]:
    """The ``bot_command`` entity Telegram attaches when a message starts with ``/``.

    The entity covers the command and an ``@botname`` suffix (``/start@portpass_test_bot``).
    Lengths are in UTF-16 code units, as Telegram counts them.
    """
    if not text.startswith("/") or len(text) < 2 or text[1].isspace():
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]


def message_update(
    update_id: int,
    user_id: int,
    text: str,
    *,
    chat_id: int | None = None,
    language_code: str | None = "zh-hant",
    chat_type: str = "private",
    first_name: str = "測試",
    last_name: str | None = None,
    username: str | None = None,
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A text message from a user; ``/commands`` get their ``bot_command`` entity."""
    message = _message_base(
        user_id,
        chat_id=chat_id,
        chat_type=chat_type,
        message_id=message_id if message_id is not None else update_id,
        date=date,
        sender=human_user(
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        ),
        chat_first_name=first_name,
    )
    message["text"] = text
    entities = command_entities(text)
    if entities:
        message["entities"] = entities
    return {"update_id": update_id, "message": message}


def deep_link_update(
    update_id: int, user_id: int, payload: str, *, language_code: str | None = "zh-hant"
) -> JSONDict:
    """What Telegram sends when a user opens ``https://t.me/<bot>?start=<payload>`` and
    taps Start: a private message whose text is ``/start <payload>``, with a
    ``bot_command`` entity over ``/start`` only (the payload is plain text; Telegram allows
    ``A-Z a-z 0-9 _ -``, up to 64 characters)."""
    allowed = all(c.isascii() and (c.isalnum() or c in "_-") for c in payload)
    if not 1 <= len(payload) <= 64 or not allowed:
        raise ValueError(f"Telegram does not allow the deep-link payload {payload!r}")
    return message_update(update_id, user_id, f"/start {payload}", language_code=language_code)


def contact_update(
    update_id: int,
    user_id: int,
    phone_number: str,
    contact_user_id: int | None,
    *,
    chat_id: int | None = None,
    first_name: str = "測試",
    language_code: str | None = "zh-hant",
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A shared contact (the reply-keyboard ``request_contact`` button sends the user's own).

    ``contact_user_id`` equal to ``user_id`` is the user's own number; another id is someone
    else's contact; ``None`` omits ``user_id``, as for a contact who is not on Telegram.
    ``phone_number`` is passed through as given: Telegram clients send it with or without ``+``.
    """
    message = _message_base(
        user_id,
        chat_id=chat_id,
        chat_type="private",
        message_id=message_id if message_id is not None else update_id,
        date=date,
        sender=human_user(user_id, first_name=first_name, language_code=language_code),
        chat_first_name=first_name,
    )
    contact: JSONDict = {"phone_number": phone_number, "first_name": first_name}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    message["contact"] = contact
    return {"update_id": update_id, "message": message}


def callback_update(
    update_id: int,
    user_id: int,
    data: str,
    message_id: int,
    chat_id: int | None = None,
    *,
    message_text: str = "請選擇",
    reply_markup: JSONDict | None = None,
    first_name: str = "測試",
    language_code: str | None = "zh-hant",
    bot_id: int = DEFAULT_BOT_ID,
    query_id: str | None = None,
    date: int | None = None,
) -> JSONDict:
    """A press of an inline button under the bot's message ``message_id``."""
    message = _message_base(
        user_id,
        chat_id=chat_id,
        chat_type="private",
        message_id=message_id,
        date=date,
        sender=bot_user(bot_id),
        chat_first_name=first_name,
    )
    message["text"] = message_text
    message["reply_markup"] = reply_markup or {
        "inline_keyboard": [[{"text": data, "callback_data": data}]]
    }
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id or str(4_300_000_000_000_000_000 + update_id),
            "from": human_user(user_id, first_name=first_name, language_code=language_code),
            "message": message,
            "chat_instance": str(-8_000_000_000_000_000_000 + (chat_id or user_id)),
            "data": data,
        },
    }


def _message_base(
    user_id: int,
    *,
    chat_id: int | None,
    chat_type: str,
    message_id: int,
    date: int | None,
    sender: JSONDict,
    chat_first_name: str,
) -> JSONDict:
    if chat_id is None:
        chat_id = user_id if chat_type == "private" else -1_001_000_000_000 - user_id
    return {
        "message_id": message_id,
        "from": sender,
        "chat": chat(chat_id, chat_type, first_name=chat_first_name),
        "date": date if date is not None else int(time.time()),
    }


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
