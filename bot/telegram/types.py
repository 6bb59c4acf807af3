"""The Telegram channel's shared types: what its modules pass each other.

Kept apart from :mod:`bot.telegram.channel` (which builds and runs the application) so the
holder chat, the gate and the operator commands can name these without importing the
module that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.services import Services
from core.conversation.state import Participant

TelegramApplication = Application[Any, Any, Any, Any, Any, Any]

#: A Telegram feature's start-up hook: ``installer(application, services)`` adds its handlers.
Installer = Callable[[TelegramApplication, Services], None]


def participant(update: Update) -> Participant:
    """Who is talking, as the conversation engine knows them: one conversation per chat."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        raise ValueError("update has no chat or user")
    return Participant(
        key=f"telegram:{chat.id}",
        channel="telegram",
        actor=f"telegram:{user.id}",
        language_hint=user.language_code,
    )
