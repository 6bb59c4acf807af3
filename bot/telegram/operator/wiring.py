"""Operators (業者申請人) on Telegram: their commands (R5, R10) in a private chat.

``/link CODE`` binds a Telegram user to an operator account made with the admin CLI;
then ``/passes``, ``/pass``, ``/send``, ``/stats`` and ``/export`` do in the chat what the
guide's 人員通行證手機驗證 screens do, and ``/notices`` lists the company's notices.
Everyone else gets no operator data and no hint that these commands exist
(:mod:`bot.telegram.operator.chat`).

The pieces:

- :mod:`bot.telegram.operator.chat`: who is asking, their language, stepping aside;
- :mod:`bot.telegram.operator.commands`: linking and the reading commands;
- :mod:`bot.telegram.operator.send`: ``/send`` and its confirmation buttons;
- :mod:`bot.telegram.operator.args` and :mod:`bot.telegram.operator.render`: the words
  typed, and the messages and buttons shown.

Handlers are added through :func:`bot.telegram.channel.add_handlers`: after the gate
(duplicates, group chats) and before the holder's catch-all handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.telegram import channel as telegram_channel
from bot.telegram.operator.chat import OperatorChat
from bot.telegram.operator.commands import OperatorCommands
from bot.telegram.operator.notices import OperatorNotices
from bot.telegram.operator.render import ASK_PATTERN, PAGE_PATTERN, SEND_PATTERN
from bot.telegram.operator.send import OperatorSends

if TYPE_CHECKING:
    from bot.services import Services
    from bot.telegram.types import TelegramApplication

#: New messages in private chats only (the gate turns groups away already; an edited
#: message is not a new command).
_PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


def setup(app: web.Application) -> None:
    telegram_channel.add_handlers(app, install)


def install(application: TelegramApplication, services: Services) -> None:
    chat = OperatorChat(services)
    commands = OperatorCommands(chat)
    sends = OperatorSends(chat)
    notices = OperatorNotices(chat)
    handlers: list[BaseHandler[Any, Any, Any]] = [
        CommandHandler("link", commands.link, filters=_PRIVATE),
        CommandHandler("unlink", commands.unlink, filters=_PRIVATE),
        CommandHandler("help", commands.help, filters=_PRIVATE),
        CommandHandler("passes", commands.passes, filters=_PRIVATE),
        CommandHandler("pass", commands.pass_, filters=_PRIVATE),
        CommandHandler("stats", commands.stats, filters=_PRIVATE),
        CommandHandler("export", commands.export, filters=_PRIVATE),
        CommandHandler("send", sends.ask, filters=_PRIVATE),
        CommandHandler("notices", notices.notices, filters=_PRIVATE),
        CallbackQueryHandler(commands.turn_page, pattern=PAGE_PATTERN),
        CallbackQueryHandler(sends.answer, pattern=SEND_PATTERN),
        CallbackQueryHandler(sends.ask_from_button, pattern=ASK_PATTERN),
    ]
    chat.own(handlers)
    for handler in handlers:
        application.add_handler(handler)
