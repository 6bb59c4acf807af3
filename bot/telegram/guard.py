"""What every Telegram update passes before any feature sees it, and what catches it after.

- The gate (handler group -1) drops an update already handled (Telegram re-sends a
  webhook update it thinks failed; ``update_id`` is claimed in the inbound log, shared by
  all instances), and keeps the bot to private chats: in a group, where the people
  around would see pass numbers, ID numbers and phones, a command gets one short answer
  and nothing else happens.
- The error handler logs the update id, the exception class and where it was raised,
  never the exception's message or the update (they may hold ID numbers and phones),
  and tells the user something went wrong.
- A webhook delivery (:meth:`Guard.deliver`) whose handling could not be stored (the
  database was down or locked) is answered 503, so Telegram sends it again: the claim
  of its update id, made by the gate in a transaction of its own, is released first,
  and the user hears nothing until the retry answers. If even the release fails, a
  retry would be skipped as seen, so the user is told something went wrong instead.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Chat, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, TypeHandler

from core import messages
from storage.errors import is_storage_failure

if TYPE_CHECKING:
    from bot.services import Services
    from bot.telegram.types import TelegramApplication

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

#: Runs before the default group (0), where features add their handlers.
GATE_GROUP = -1
INBOUND_CHANNEL = "telegram"


@dataclass
class _Delivery:
    """What became of the webhook delivery being handled (PTB runs the gate, the
    handlers and the error handler in the webhook request's task)."""

    claimed: bool = False
    not_stored: bool = False


_DELIVERY: ContextVar[_Delivery | None] = ContextVar("telegram_delivery", default=None)


class Guard:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def deliver(self, application: TelegramApplication, update: Update) -> bool:
        """Handle one webhook update. ``False``: it could not be stored and nothing of it
        was kept, so the webhook answers 503 and Telegram delivers it again."""
        delivery = _Delivery()
        token = _DELIVERY.set(delivery)
        try:
            await application.process_update(update)
        finally:
            _DELIVERY.reset(token)
        if not delivery.not_stored:
            return True
        if delivery.claimed:
            try:
                await self._services.inbound.release(INBOUND_CHANNEL, str(update.update_id))
            except Exception as error:
                log.error(
                    "telegram update %s: claim not released (%s); its retry would be "
                    "skipped, so the user is told instead",
                    update.update_id,
                    type(error).__name__,
                )
                await self._apologise(application, update)
                return True
        log.warning("telegram update %s not stored: answered 503 for a retry", update.update_id)
        return False

    def install(self, application: TelegramApplication) -> None:
        application.add_handler(TypeHandler(Update, self.gate), group=GATE_GROUP)
        application.add_error_handler(self.on_error)

    async def gate(self, update: Update, context: Context) -> None:
        """Let an update through only once, and only from a private chat."""
        services = self._services
        seen = await services.inbound.claim(
            INBOUND_CHANNEL, str(update.update_id), services.clock.now()
        )
        if seen is not None:
            log.info("telegram update %s seen before: skipped", update.update_id)
            services.metrics.note_inbound("duplicate")
            raise ApplicationHandlerStop
        delivery = _DELIVERY.get()
        if delivery is not None:
            delivery.claimed = True
        chat = update.effective_chat
        if chat is None or chat.type == Chat.PRIVATE:
            return
        if update.callback_query is not None:
            await update.callback_query.answer()
        elif _is_command_for(update, context.bot.username):
            await context.bot.send_message(
                chat.id, messages.text("telegram.private_only", self._language(update))
            )
        raise ApplicationHandlerStop

    async def on_error(self, update: object, context: Context) -> None:
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "telegram update %s failed: %s at %s", update_id, type(error).__name__, _origin(error)
        )
        delivery = _DELIVERY.get()
        if delivery is not None and is_storage_failure(error):
            delivery.not_stored = True  # Telegram's retry answers; say nothing now
            return
        self._services.metrics.note_inbound("error")
        if isinstance(update, Update):
            await self._apologise(context.application, update)

    async def _apologise(self, application: TelegramApplication, update: Update) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != Chat.PRIVATE:
            return
        text = messages.text("error.generic", self._language(update))
        with contextlib.suppress(TelegramError):  # e.g. the user blocked the bot
            await application.bot.send_message(chat.id, text)

    def _language(self, update: Update) -> str:
        user = update.effective_user
        if user is not None and user.language_code:
            return messages.lang_or_default(user.language_code)
        return self._services.config.verification.default_language


def _is_command_for(update: Update, bot_username: str) -> bool:
    """A ``/command`` or ``/command@thisbot``; not one meant for another bot in the group."""
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return False
    _, _, target = message.text.split(maxsplit=1)[0].partition("@")
    return not target or target.lower() == bot_username.lower()


def _origin(error: BaseException | None) -> str:
    """``file.py:123 in function`` of the innermost frame: enough to find the bug, and free
    of the values that were being handled."""
    if error is None or error.__traceback__ is None:
        return "?"
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
