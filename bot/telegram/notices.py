"""Notices on Telegram: the background tasks that send what notices queue (a message to
each chat that verified the pass, the operators' daily digest), with PTB's bot.

Runs only when Telegram is on: the two loops (:mod:`bot.background.loop`) are built
here for :func:`bot.app.background_jobs`, which starts them after the Telegram
application and stops them before it. The sending logic is in
:mod:`bot.notices.delivery` and :mod:`bot.notices.digest`; this module adapts PTB's
errors to theirs: a chat that blocked the bot or does not exist fails for good,
everything else is retried.
"""

from __future__ import annotations

import logging
from datetime import time

from aiohttp import web
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.notices import digest as notice_digest
from bot.notices.delivery import (
    NOTICE_MESSENGER,
    MessageSender,
    NoticeMessenger,
    PermanentSendFailure,
    TransientSendFailure,
)
from bot.services import SERVICES
from bot.telegram.channel import TELEGRAM
from bot.telegram.types import TelegramApplication
from core.notices.digest import DigestPolicy, DigestService
from storage.notices.queue import TelegramQueue

log = logging.getLogger(__name__)

DIGESTS = web.AppKey("notice_digests", DigestService)


def ptb_sender(application: TelegramApplication) -> MessageSender:
    async def send(chat_id: str, text: str) -> None:
        try:
            await application.bot.send_message(int(chat_id), text)
        except (Forbidden, BadRequest) as error:  # blocked, chat gone, never started
            raise PermanentSendFailure(type(error).__name__) from None
        except TelegramError as error:  # network, 5xx, flood control
            raise TransientSendFailure(type(error).__name__) from None

    return send


def digest_service(app: web.Application) -> DigestService | None:
    services = app[SERVICES]
    at = services.config.notices.digest_time
    if not at:
        return None
    hour, minute = (int(part) for part in at.split(":"))
    policy = DigestPolicy(
        at=time(hour, minute), default_language=services.config.verification.default_language
    )
    return DigestService(services.uow, services.clock, policy)


def messenger(app: web.Application) -> NoticeMessenger | None:
    """The loop that sends the queued Telegram messages, while Telegram is on."""
    application = app.get(TELEGRAM)
    if application is None:
        return None
    services = app[SERVICES]
    tuning = services.notice_tuning
    return NoticeMessenger(
        TelegramQueue(services.engine),
        ptb_sender(application),
        services.clock,
        tuning.delivery if tuning else None,
    )


def digest(app: web.Application) -> notice_digest.DigestLoop | None:
    """The daily digest's loop, with Telegram on and ``notices.digest_time`` set; it
    wakes the messenger, which must be built (and started) before it."""
    sender = app.get(NOTICE_MESSENGER)
    digests = digest_service(app)
    if sender is None or digests is None:
        return None
    app[DIGESTS] = digests
    tuning = app[SERVICES].notice_tuning
    interval = tuning.digest_interval if tuning else notice_digest.CHECK_INTERVAL
    return notice_digest.DigestLoop(digests, sender.wake, interval)
