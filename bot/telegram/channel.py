"""Telegram wiring: a python-telegram-bot ``Application`` inside our aiohttp server.

PTB does not run its own web server here. In ``webhook`` mode (production) Telegram posts
updates to ``POST /telegram/webhook`` on our server; the route checks the secret header
before reading the body, then hands the update to PTB and answers when it has been
handled. In ``polling`` mode (development, no public URL) PTB's ``Updater`` long-polls
``getUpdates``, in one process only: with ``portpass serve --workers N`` the leader
(worker 0) polls and registers the webhook and the menu, the others only send (webhook
updates reach every worker). Either way the application is started and stopped in
``cleanup_ctx``, and outgoing calls go through PTB's ``AIORateLimiter`` (Telegram's
flood limits).

Handler order, which decides who answers an update:

1. group -1, :mod:`bot.telegram.guard`: duplicates dropped, group chats turned away;
2. group 0, the features added with :func:`add_handlers` (operator commands), in the
   order they were added;
3. group 0, last, :mod:`bot.telegram.holder`: every remaining private text, contact and
   button goes to the holder conversation.

So a feature module only registers its own ``CommandHandler`` / ``CallbackQueryHandler``
(with a callback-data prefix of its own, not ``c:``) and needs no ordering tricks::

    # bot/telegram/operator/wiring.py
    def setup(app: web.Application) -> None:
        telegram_channel.add_handlers(app, install)

    def install(application: TelegramApplication, services: Services) -> None:
        application.add_handler(CommandHandler("passes", ...))
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import AsyncIterator

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.config import ConfigError, TelegramConfig
from bot.json_body import BadJson, parse_json
from bot.logs import log_context
from bot.services import CONFIG, SERVICES, WORKER, Services
from bot.telegram import holder as telegram_holder
from bot.telegram import menus as telegram_menus
from bot.telegram.guard import Guard
from bot.telegram.types import Installer, TelegramApplication

log = logging.getLogger(__name__)


TELEGRAM: web.AppKey[TelegramApplication] = web.AppKey("telegram")
GUARD: web.AppKey[Guard] = web.AppKey("telegram_guard")
INSTALLERS: web.AppKey[list[Installer]] = web.AppKey("telegram_installers")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]


def setup(app: web.Application) -> None:
    """Register the Telegram channel on ``app``; without a token, say so once and do nothing."""
    telegram = app[CONFIG].telegram
    if not telegram.token:
        log.info("Telegram is off (no telegram.token)")
        return
    app.cleanup_ctx.append(_telegram_ctx)
    if telegram.mode == "webhook":
        app.router.add_post(WEBHOOK_PATH, webhook)


def add_handlers(app: web.Application, installer: Installer) -> None:
    """The extension point for Telegram features: ``installer(application, services)`` runs
    at start-up, after the gate and before the holder's catch-all handlers. Harmless when
    Telegram is off (the installer is never called)."""
    if INSTALLERS not in app:
        app[INSTALLERS] = []
    app[INSTALLERS].append(installer)


def build_application(
    services: Services,
    installers: list[Installer],
    guard: Guard | None = None,
    *,
    polls: bool = True,
) -> TelegramApplication:
    telegram = services.config.telegram
    # PTB 22 warns (PTBDeprecationWarning) whenever it builds a RetryAfter, e.g. on a 429,
    # unless it may already use timedelta values; we opt in, which is where PTB is going.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    builder = (
        ApplicationBuilder()
        .token(telegram.token.reveal())
        .base_url(telegram.api_base_url)
        # Telegram: about 30 messages/s in all, 20 a minute per group; private chats are
        # not limited per chat by PTB (Telegram tolerates short bursts there).
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=30,
                overall_time_period=1,
                group_max_rate=20,
                group_time_period=60,
                max_retries=3,
            )
        )
    )
    if telegram.mode == "webhook" or not polls:
        builder = builder.updater(None)
    application: TelegramApplication = builder.build()
    (guard or Guard(services)).install(application)
    for install in installers:
        install(application, services)
    telegram_holder.install(application, services)
    return application


async def _telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    telegram = services.config.telegram
    guard = Guard(services)
    leader = app[WORKER].leader
    application = build_application(services, app.get(INSTALLERS, []), guard, polls=leader)
    try:
        await application.initialize()  # getMe: a wrong token stops start-up here
    except InvalidToken:
        await application.bot.shutdown()  # Application.shutdown skips a half-initialised bot
        # PTB's own message quotes the whole token; this one must be safe to log.
        raise ConfigError("telegram.token", "was rejected by the Bot API (getMe)") from None
    except BaseException:
        await application.bot.shutdown()
        raise
    try:
        if application.updater is not None:
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await application.start()
        if leader:
            await telegram_menus.set_holder_menu(application.bot)
        if telegram.set_webhook and leader:
            await _set_webhook(application, services.config.server.public_base_url, telegram)
    except BaseException:
        await _stop(application)
        raise
    app[TELEGRAM] = application
    app[GUARD] = guard
    log.info("Telegram is on (%s mode)", telegram.mode)
    yield
    await _stop(application)


async def _set_webhook(
    application: TelegramApplication, public_base_url: str, telegram: TelegramConfig
) -> None:
    await application.bot.set_webhook(
        url=f"{public_base_url}{WEBHOOK_PATH}",
        secret_token=telegram.webhook_secret.reveal(),
        allowed_updates=ALLOWED_UPDATES,
    )


async def _stop(application: TelegramApplication) -> None:
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


async def webhook(request: web.Request) -> web.Response:
    """Telegram's delivery of one update. Anything but 2xx makes Telegram retry, so the
    answers that are not 200 are for requests that no retry could fix, and 503 for an
    update whose handling could not be stored (the database was unavailable)."""
    config = request.app[CONFIG]
    expected = config.telegram.webhook_secret.reveal().encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, expected):
        return web.Response(status=403)
    length = request.content_length
    if length is not None and length > config.server.max_body_bytes:
        return web.Response(status=413)
    body = await request.read()  # a chunked body past client_max_size raises 413 itself
    application = request.app[TELEGRAM]
    update = _parse_update(body, application)
    if update is None:
        return web.Response(status=400)
    with log_context(update_id=update.update_id):
        # Handlers' errors go to the error handler; those of the database make this False.
        delivered = await request.app[GUARD].deliver(application, update)
    if not delivered:
        return web.Response(status=503)
    return web.Response()


def _parse_update(body: bytes, application: TelegramApplication) -> Update | None:
    try:
        data = parse_json(body)
    except BadJson:  # also 20,000 nested arrays, or a 5,000-digit number: 400, not 500
        return None
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return None
    try:
        return Update.de_json(data, application.bot)
    except (KeyError, TypeError, ValueError):  # JSON, but not shaped like an Update
        return None
