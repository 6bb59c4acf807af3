"""Engine replies as Telegram messages: text, inline buttons, the share-my-number keyboard.

Only translation lives here (docs/design.md#channels-translate): the engine decides what is
said and which choices exist; this module decides how Telegram shows them. Shared by the
holder handlers and by any later Telegram feature (operator commands) that renders
:class:`core.conversation.state.Reply` objects."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from core import messages
from core.conversation.state import Reply

#: Prefix of the callback data of a conversation choice ("c:confirm"). Short, because
#: Telegram allows 64 bytes; other features use prefixes of their own.
CHOICE_PREFIX = "c:"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def choice_data(value: str) -> str:
    return f"{CHOICE_PREFIX}{value}"


def markup_for(reply: Reply, language: str) -> Markup | None:
    """Options become inline buttons, two to a row (four language names in one row
    would be cut short on a phone); ``ask_contact`` a one-time reply keyboard whose
    single button shares the user's own number (Telegram sends only the tapping user's
    contact from a ``request_contact`` button)."""
    if reply.options:
        buttons = [
            InlineKeyboardButton(option.label, callback_data=choice_data(option.value))
            for option in reply.options
        ]
        return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
    if reply.ask_contact:
        button = KeyboardButton(messages.text("conv.share_contact", language), request_contact=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    return None


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: Sequence[Reply],
    language: str,
    *,
    remove_keyboard: bool = False,
) -> None:
    """Send ``replies`` in order. With ``remove_keyboard`` the first reply that has no
    markup of its own also takes away an earlier share-my-number keyboard: a message
    carries one keyboard, so a question with inline buttons cannot do it."""
    for reply in replies:
        markup = markup_for(reply, language)
        if markup is None and remove_keyboard:
            markup, remove_keyboard = ReplyKeyboardRemove(), False
        await bot.send_message(chat_id, reply.text, reply_markup=markup)
