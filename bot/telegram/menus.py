"""The command menus Telegram shows next to the text box, and the holder's ``/help``.

Holders get theirs at start-up for every private chat (``BotCommandScopeAllPrivateChats``),
in Traditional Chinese by default and in English, Vietnamese or Indonesian for users whose
Telegram speaks one of those (``language_code`` ``en``, ``vi``, ``id``). An operator's chat
gets its own menu (``BotCommandScopeChat``: the holder's commands and the operator's) when
they ``/link``; it is deleted when they ``/unlink`` or are found revoked, so the chat falls
back to the holder's menu. Nobody else ever gets a chat menu: strangers see no operator
command.

A menu that cannot be set (Telegram unreachable) is logged and skipped: the commands work
typed, and start-up or a ``/link`` must not fail for a menu.

A chat whose operator was revoked while Telegram was out of reach keeps the operator menu
until the server removes it at that chat's next operator command. :class:`OperatorMenus`
remembers what it set and removed, so a stranger's operator commands cost four
``deleteMyCommands`` once, not four per command. The memory is per process, bounded, and
forgets after :data:`REMEMBER_SECONDS`: another ``serve`` process may have set a menu
since, so a chat remembered as clean is checked again after that long.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from bot.config import TelegramConfig
from core import messages

log = logging.getLogger(__name__)

HOLDER_COMMANDS = ("start", "verify", "status", "cancel", "lang", "help")
OPERATOR_COMMANDS = ("passes", "pass", "send", "stats", "export", "notices", "unlink")

#: Telegram's ``language_code`` of each of our languages: ``""`` is everyone else.
_LANGUAGE_CODES = {messages.ZH: "", messages.EN: "en", messages.VI: "vi", messages.ID: "id"}


def commands(names: tuple[str, ...], language: str) -> list[BotCommand]:
    return [BotCommand(name, messages.text(f"command.{name}", language)) for name in names]


def holder_help(language: str) -> str:
    """``/help`` on Telegram: the conversation's help, then the slash commands."""
    commands_help = messages.text("telegram.commands_help", language)
    return f"{messages.text('conv.help', language)}\n\n{commands_help}"


async def set_holder_menu(bot: Bot) -> None:
    """At start-up: the holder's menu in every private chat, in each of our languages."""
    scope = BotCommandScopeAllPrivateChats()
    try:
        for language, code in _LANGUAGE_CODES.items():
            await bot.set_my_commands(
                commands(HOLDER_COMMANDS, language), scope=scope, language_code=code or None
            )
    except TelegramError as error:
        log.warning("Telegram command menu not set: %s", type(error).__name__)


async def set_operator_menu(bot: Bot, chat_id: int) -> None:
    """After ``/link``: this chat's menu has the operator's commands too."""
    scope = BotCommandScopeChat(chat_id)
    try:
        for language, code in _LANGUAGE_CODES.items():
            names = HOLDER_COMMANDS + OPERATOR_COMMANDS
            await bot.set_my_commands(
                commands(names, language), scope=scope, language_code=code or None
            )
    except TelegramError as error:
        log.warning("Telegram operator menu not set: %s", type(error).__name__)


async def remove_operator_menu(bot: Bot, chat_id: int) -> bool:
    """After ``/unlink`` or a revocation: the chat falls back to the holder's menu.
    ``False`` when Telegram could not be told."""
    scope = BotCommandScopeChat(chat_id)
    try:
        for code in _LANGUAGE_CODES.values():
            await bot.delete_my_commands(scope=scope, language_code=code or None)
    except TelegramError as error:
        log.warning("Telegram operator menu not removed: %s", type(error).__name__)
        return False
    return True


async def remove_operator_menu_from_cli(telegram: TelegramConfig, chat_id: int) -> bool:
    """``portpass operator revoke`` runs outside the server: it talks to the Bot API
    itself, so the revoked operator's menu goes at once. ``False`` when Telegram is off
    or out of reach (the server then removes it at their next operator command)."""
    if not telegram.token:
        return False
    bot = Bot(telegram.token.reveal(), base_url=telegram.api_base_url)
    try:
        async with bot:  # getMe: a wrong token is a TelegramError too
            return await remove_operator_menu(bot, chat_id)
    except TelegramError as error:
        log.warning("Telegram operator menu not removed: %s", type(error).__name__)
        return False


#: How long a chat stays remembered as having no operator menu (see the module docstring).
REMEMBER_SECONDS = 3600.0
#: Chats remembered at most (least recently seen forgotten first): bounded memory
#: whatever a flood of strangers does.
REMEMBER_CHATS = 10_000


class OperatorMenus:
    """Sets and removes operator menus, and remembers which chats have none, so that
    removing a stale one is not repeated on every command of a stranger."""

    def __init__(
        self,
        *,
        remember_seconds: float = REMEMBER_SECONDS,
        max_chats: int = REMEMBER_CHATS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remember = remember_seconds
        self._max = max_chats
        self._clock = clock
        self._clean: OrderedDict[int, float] = OrderedDict()  # chat id -> when removed

    async def set(self, bot: Bot, chat_id: int) -> None:
        """After ``/link``: the operator menu (the chat is no longer clean)."""
        self._clean.pop(chat_id, None)
        await set_operator_menu(bot, chat_id)

    async def remove(self, bot: Bot, chat_id: int) -> None:
        """After ``/unlink``: always remove (the menu was set)."""
        if await remove_operator_menu(bot, chat_id):
            self._remember_clean(chat_id)

    async def remove_stale(self, bot: Bot, chat_id: int) -> None:
        """An operator command from a non-operator: remove a menu that may be left over,
        unless this chat was cleaned recently."""
        removed_at = self._clean.get(chat_id)
        if removed_at is not None and self._clock() - removed_at < self._remember:
            self._clean.move_to_end(chat_id)
            return
        if await remove_operator_menu(bot, chat_id):
            self._remember_clean(chat_id)

    def _remember_clean(self, chat_id: int) -> None:
        self._clean[chat_id] = self._clock()
        self._clean.move_to_end(chat_id)
        while len(self._clean) > self._max:
            self._clean.popitem(last=False)
