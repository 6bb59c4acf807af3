"""Operators (業者申請人) on Telegram: the commands of issue 4 in a private chat.

``/link CODE`` binds a Telegram user to an operator account made with the admin CLI;
then ``/passes``, ``/pass``, ``/send``, ``/stats`` and ``/export`` do in the chat what the
guide's 人員通行證手機驗證 screens do. Everyone else gets no operator data and no hint
that these commands exist (:mod:`bot.telegram_operator_chat`).

The pieces:

- :mod:`bot.telegram_operator_chat`: who is asking, their language, stepping aside;
- :mod:`bot.telegram_operator_commands`: linking and the reading commands;
- :mod:`bot.telegram_operator_send`: ``/send`` and its confirmation buttons;
- :mod:`bot.telegram_operator_args` and :mod:`bot.telegram_operator_render`: the words
  typed, and the messages and buttons shown.

Handlers are added through :func:`bot.telegram_channel.add_handlers`: after the gate
(duplicates, group chats) and before the holder's catch-all handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot import telegram_channel
from bot.telegram_operator_chat import OperatorChat
from bot.telegram_operator_commands import OperatorCommands
from bot.telegram_operator_render import PAGE_PATTERN, SEND_PATTERN
from bot.telegram_operator_send import OperatorSends

if TYPE_CHECKING:
    from bot.services import Services
    from bot.telegram_channel import TelegramApplication

#: New messages in private chats only (the gate turns groups away already; an edited
#: message is not a new command).
_PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


def setup(app: web.Application) -> None:
    telegram_channel.add_handlers(app, install)


def install(application: TelegramApplication, services: Services) -> None:
    chat = OperatorChat(services)
    commands = OperatorCommands(chat)
    sends = OperatorSends(chat)
    handlers: list[BaseHandler[Any, Any, Any]] = [
        CommandHandler("link", commands.link, filters=_PRIVATE),
        CommandHandler("unlink", commands.unlink, filters=_PRIVATE),
        CommandHandler("help", commands.help, filters=_PRIVATE),
        CommandHandler("passes", commands.passes, filters=_PRIVATE),
        CommandHandler("pass", commands.pass_, filters=_PRIVATE),
        CommandHandler("stats", commands.stats, filters=_PRIVATE),
        CommandHandler("export", commands.export, filters=_PRIVATE),
        CommandHandler("send", sends.ask, filters=_PRIVATE),
        CallbackQueryHandler(commands.turn_page, pattern=PAGE_PATTERN),
        CallbackQueryHandler(sends.answer, pattern=SEND_PATTERN),
    ]
    chat.own(handlers)
    for handler in handlers:
        application.add_handler(handler)
