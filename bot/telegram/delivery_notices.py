"""Telling a Telegram chat that the code it asked for will not arrive.

The :class:`bot.background.failure_notices.Teller` for Telegram: the outbox row's
``notify_to`` names who asked (``telegram:<chat id>`` for a holder's chat,
``operator:<id>`` for an operator, reached in their private chat with the bot), and
the request gives the pass and the language. The message says which pass and phone
(masked), what went wrong (「簡訊未送達 (30003)」) and that a new code may be asked
for at once: the request was released with the failure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.background.failure_notices import FAILURE_NOTICES
from bot.services import SERVICES, Services
from bot.telegram.channel import TELEGRAM
from core.verification.delivery import failure_notice
from storage.outbox.failures import FailedSms

log = logging.getLogger(__name__)


class TelegramTeller:
    def __init__(self, services: Services, bot: Bot) -> None:
        self._services = services
        self._bot = bot

    async def tell(self, failure: FailedSms) -> bool:
        chat_id = await self._chat_of(failure.notify_to)
        async with self._services.uow() as uow:
            request = await uow.requests.get(failure.request_id) if failure.request_id else None
        if chat_id is None or request is None:
            log.info("outbox %d: nobody left to tell on Telegram", failure.id)
            return True
        text = failure_notice(request.pass_no, failure.to, failure.problem, request.language)
        try:
            await self._bot.send_message(chat_id, text)
        except (Forbidden, BadRequest) as error:  # blocked the bot, or the chat is gone
            log.info("outbox %d: the chat cannot be told (%s)", failure.id, type(error).__name__)
            return True
        except TelegramError as error:  # network, flood control: the next round retries
            log.warning("outbox %d: telling the chat failed (%s)", failure.id, type(error).__name__)
            return False
        log.info("outbox %d: told the chat that the SMS did not arrive", failure.id)
        return True

    async def _chat_of(self, notify_to: str) -> int | None:
        kind, _, value = notify_to.partition(":")
        if kind == "telegram" and value.lstrip("-").isdigit():
            return int(value)
        if kind == "operator":
            async with self._services.uow() as uow:
                account = await uow.operators.get(value)
            if account is not None and account.revoked_at is None and account.telegram_user_id:
                return int(account.telegram_user_id)  # their private chat with the bot
        return None


def setup(app: web.Application) -> None:
    """Register the Telegram teller while Telegram runs (call after the Telegram
    channel's setup: its start-up must have run first)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        application, notices = app.get(TELEGRAM), app.get(FAILURE_NOTICES)
        if application is None or notices is None:  # Telegram is off
            yield
            return
        remove = notices.add_teller(TelegramTeller(app[SERVICES], application.bot))
        try:
            yield
        finally:
            remove()

    app.cleanup_ctx.append(run)
