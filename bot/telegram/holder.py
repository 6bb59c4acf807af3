"""Holders on Telegram: updates become conversation-engine inputs, replies go back.

Everything a holder can say is passed to the shared engine (:mod:`core.conversation.engine`):
typed text and commands as :class:`Text`, the share-my-number button as
:class:`SharedContact`, inline buttons as :class:`Choice`. No rule lives here; this module
only knows who is talking and how to show the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.services import Services
from bot.telegram.menus import holder_help
from bot.telegram.render import CHOICE_PREFIX, send_replies
from bot.telegram.types import TelegramApplication, participant
from core import messages
from core.conversation.state import Choice, Input, Reply, SharedContact, Step, Text
from storage.turn_order import TurnOrder

Context = ContextTypes.DEFAULT_TYPE

#: Steps during which the share-my-number keyboard may still be on the holder's screen.
_KEYBOARD_STEPS = frozenset({Step.ASK_PHONE, Step.CONFIRM})

_PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE

#: Deep-link payloads that only start the flow (``t.me/<bot>?start=verify``); any other
#: payload is taken as the pass number.
_START_PAYLOADS = frozenset({"verify"})


class ChatLocks:
    """One engine step at a time per chat. Telegram may deliver two updates of one chat
    over parallel webhook connections; handled at once, both turns could read the state
    before either saved it (PostgreSQL reads committed data), and one would be lost. The
    lock also keeps the replies in order.

    In this process an asyncio lock; then, on PostgreSQL, the chat's advisory lock
    (:mod:`storage.turn_order`), which orders the turns of processes alike. The local
    lock comes first so that one process's waiting updates of a chat hold no database
    connection while they wait."""

    def __init__(self, order: TurnOrder | None = None) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._order = order or TurnOrder()

    @contextlib.asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(chat_id, (asyncio.Lock(), 0))
        self._locks[chat_id] = (lock, waiting + 1)
        try:
            async with lock, self._order.hold(chat_id):
                yield
        finally:
            lock, waiting = self._locks[chat_id]
            if waiting == 1:
                del self._locks[chat_id]
            else:
                self._locks[chat_id] = (lock, waiting - 1)


class HolderChat:
    """The holder handlers of one Telegram application, sharing the services and locks."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._locks = ChatLocks(services.turn_order)

    def install(self, application: TelegramApplication) -> None:
        """Register the catch-all handlers; call after every other feature's handlers, so
        commands those register (``/link``, ``/passes``) reach them first."""
        application.add_handler(CommandHandler("start", self.on_start, filters=_PRIVATE_MESSAGE))
        application.add_handler(CommandHandler("help", self.on_help, filters=_PRIVATE_MESSAGE))
        application.add_handler(MessageHandler(_PRIVATE_MESSAGE & filters.TEXT, self.on_text))
        application.add_handler(MessageHandler(_PRIVATE_MESSAGE & filters.CONTACT, self.on_contact))
        application.add_handler(CallbackQueryHandler(self.on_choice, pattern=f"^{CHOICE_PREFIX}"))
        application.add_handler(CallbackQueryHandler(self.on_stale_button))

    async def on_text(self, update: Update, context: Context) -> None:
        message = update.message
        if message is not None and message.text is not None:
            await self.converse(update, context, Text(message.text))

    async def on_start(self, update: Update, context: Context) -> None:
        """``/start``, typed or from a deep link: the greeting (what this is, what will be
        asked, what is kept and for how long), then the first question, as PTB's
        conversation example greets before it asks.

        A deep link ``t.me/<bot>?start=KHPS113-000043`` arrives as ``/start KHPS113-000043``:
        the pass number is the first answer. ``?start=verify`` just starts."""
        chat = update.effective_chat
        if chat is None:
            return
        who = participant(update)
        payload = (context.args or [""])[0]
        days = self._services.config.retention.verification_requests_days
        conversations = self._services.conversations
        async with self._locks.hold(chat.id):
            turn = await conversations.handle(who, Text("/start"))
            welcome = Reply(messages.text("telegram.welcome", turn.language, days=days))
            replies, language, step = [welcome, *turn.replies], turn.language, turn.step
            if payload and payload.lower() not in _START_PAYLOADS and step is Step.ASK_PASS:
                answered = await conversations.handle(who, Text(payload))
                # The pass number is answered: its question is not shown.
                replies = [*replies[:-1], *answered.replies]
                language, step = answered.language, answered.step
            shown = turn.previous_step in _KEYBOARD_STEPS
            gone = step not in _KEYBOARD_STEPS
            await send_replies(
                context.bot, chat.id, replies, language, remove_keyboard=shown and gone
            )

    async def on_help(self, update: Update, context: Context) -> None:
        """``/help`` on Telegram names the slash commands too (the engine's help, shared
        with SMS, names the words)."""
        chat = update.effective_chat
        if chat is None:
            return
        who = participant(update)
        async with self._locks.hold(chat.id):
            turn = await self._services.conversations.handle(who, Text("/help"))
            # The engine's help gives way to one that names the commands; a timed-out
            # notice before it and the organisation's contact after it stay.
            shared = messages.text("conv.help", turn.language)
            replies = [
                Reply(holder_help(turn.language)) if reply.text == shared else reply
                for reply in turn.replies
            ]
            await send_replies(context.bot, chat.id, replies, turn.language)

    async def on_contact(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or message.contact is None or message.from_user is None:
            return
        contact = message.contact
        own = contact.user_id is not None and contact.user_id == message.from_user.id
        await self.converse(update, context, SharedContact(phone=contact.phone_number, own=own))

    async def on_choice(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        await query.answer()
        await _remove_buttons(update)  # a second tap on the same question does nothing
        await self.converse(update, context, Choice(query.data.removeprefix(CHOICE_PREFIX)))

    async def on_stale_button(self, update: Update, context: Context) -> None:
        """A button nothing handles (an older version's, or a feature since removed):
        stop the client's spinner and take the buttons away."""
        query = update.callback_query
        if query is None:
            return
        language = messages.lang_or_default(query.from_user.language_code)
        await query.answer(messages.text("telegram.button_expired", language))
        await _remove_buttons(update)

    async def converse(self, update: Update, context: Context, message: Input) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        who = participant(update)
        async with self._locks.hold(chat.id):
            turn = await self._services.conversations.handle(who, message)
            shown = turn.previous_step in _KEYBOARD_STEPS
            gone = turn.step not in _KEYBOARD_STEPS
            await send_replies(
                context.bot, chat.id, turn.replies, turn.language, remove_keyboard=shown and gone
            )


async def _remove_buttons(update: Update) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    # Gone already (a double tap), or older than Telegram lets a bot edit: nothing to take away.
    with contextlib.suppress(BadRequest):
        await query.edit_message_reply_markup(reply_markup=None)


def install(application: TelegramApplication, services: Services) -> None:
    HolderChat(services).install(application)
