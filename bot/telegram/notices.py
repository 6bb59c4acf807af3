"""Notices on Telegram: the background tasks that send what notices queue (a message to
each chat that verified the pass, the operators' daily digest), with PTB's bot.

Runs only when Telegram is on; it starts after the Telegram application (its
``cleanup_ctx`` is registered later) and stops before it. The sending logic is in
:mod:`bot.notices.delivery` and :mod:`bot.notices.digest`; this module adapts PTB's
errors to theirs: a chat that blocked the bot or does not exist fails for good,
everything else is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import time

from aiohttp import web
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.notices import digest as notice_digest
from bot.notices.delivery import (
    DOORBELL,
    MessageSender,
    NoticeMessenger,
    PermanentSendFailure,
    TransientSendFailure,
)
from bot.services import CONFIG, SERVICES
from bot.telegram.channel import TELEGRAM
from bot.telegram.types import TelegramApplication
from core.notices.digest import DigestPolicy, DigestService
from storage.notices.queue import TelegramQueue

log = logging.getLogger(__name__)

MESSENGER = web.AppKey("notice_messenger", NoticeMessenger)
DIGESTS = web.AppKey("notice_digests", DigestService)


def setup(app: web.Application) -> None:
    if app[CONFIG].telegram.token:
        app.cleanup_ctx.append(_notices_ctx)


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


async def _notices_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    overrides = services.notice_tuning
    messenger = NoticeMessenger(
        TelegramQueue(services.engine),
        ptb_sender(app[TELEGRAM]),
        services.clock,
        overrides.delivery if overrides else None,
    )
    app[MESSENGER] = messenger
    if DOORBELL in app:
        app[DOORBELL].listen(messenger.wake)
    tasks = [asyncio.create_task(messenger.run_forever(), name="portpass-notice-messages")]
    digests = digest_service(app)
    if digests is not None:
        app[DIGESTS] = digests
        interval = overrides.digest_interval if overrides else notice_digest.CHECK_INTERVAL
        tasks.append(
            asyncio.create_task(
                notice_digest.run_forever(digests, messenger.wake, interval),
                name="portpass-notice-digest",
            )
        )
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
