"""What every operator command shares: who is asking, which language to answer in, and
what happens when the asker is not an operator.

Anyone who is not a linked, active operator must learn nothing of the operator commands
(docs/channels.md#telegram), not even that they exist. So their ``/passes`` is not answered
here at all: it is passed on to the handler that would have taken it had this feature never
been installed (the holder conversation), and they get exactly what any unknown text gets in
the state their conversation is in. Operator buttons pressed by someone who is no longer an
operator (revoked, unlinked) get the same "button expired" answer as any stale button.

Each command and button asks :meth:`core.operators.lifecycle.OperatorLifecycle.operator_for`
afresh, and the use cases re-check the account, so a revocation takes effect on the next
update.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, ContextTypes

from bot.telegram.menus import OperatorMenus
from bot.telegram.types import participant
from core import messages
from core.errors import NotAnOperator, PortPassError
from core.model import Operator

if TYPE_CHECKING:
    from bot.services import Services

Context = ContextTypes.DEFAULT_TYPE

#: PTB's default handler group, where features and the holder's catch-all live.
_FEATURE_GROUP = 0


@dataclass(frozen=True, slots=True)
class Turn:
    """One operator command or button press: where to answer, in which language, and the
    words typed after the command."""

    bot: Bot
    chat_id: int
    user_id: str
    language: str
    args: tuple[str, ...] = ()
    query: CallbackQuery | None = None

    async def say(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        await self.bot.send_message(self.chat_id, text, reply_markup=markup)

    async def show(self, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """Replace the message under the pressed button (a page, an answered question).
        Unchanged (a double tap) or too old to edit: nothing to do."""
        if self.query is None:
            await self.say(text, markup)
            return
        with contextlib.suppress(BadRequest):
            await self.query.edit_message_text(text, reply_markup=markup)

    async def take_buttons(self) -> bool:
        """Remove the buttons under the pressed message; ``False`` when they were gone
        already: another press of the same question got there first."""
        if self.query is None:
            return True
        try:
            await self.query.edit_message_reply_markup(reply_markup=None)
        except BadRequest as error:
            return "not modified" not in str(error).lower()
        return True


CommandAction = Callable[[Turn, Operator], Awaitable[None]]


class OperatorChat:
    """Resolves the caller and runs an operator action, or steps aside for non-operators."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.menus = OperatorMenus()
        self._own: set[int] = set()

    def own(self, handlers: Iterable[BaseHandler[Any, Any, Any]]) -> None:
        """Remember this feature's handlers, so :meth:`pass_on` skips them."""
        self._own.update(id(handler) for handler in handlers)

    async def turn(self, update: Update, context: Context) -> Turn | None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return None
        return Turn(
            bot=context.bot,
            chat_id=chat.id,
            user_id=str(user.id),
            language=await self._language(update),
            args=tuple(context.args or ()),
            query=update.callback_query,
        )

    async def command(
        self,
        update: Update,
        context: Context,
        action: CommandAction,
        *,
        stale_menu: bool = True,
    ) -> None:
        """Run ``action`` for a linked operator; errors become their messages.

        An operator-only command from someone who is not (or no longer) an operator may
        come from the chat's old operator menu (revoked while Telegram was unreachable
        from the CLI): with ``stale_menu`` that menu is removed first. Harmless for a
        stranger, whose chat has no menu of its own."""
        operator = await self._operator(update)
        turn = await self.turn(update, context) if operator is not None else None
        if operator is None or turn is None:
            chat = update.effective_chat
            if operator is None and stale_menu and chat is not None:
                await self.menus.remove_stale(context.bot, chat.id)
            await self.pass_on(update, context)
            return
        try:
            await action(turn, operator)
        except NotAnOperator:  # revoked between the lookup and the use case
            await self.pass_on(update, context)
        except PortPassError as error:
            await turn.say(messages.render_error(error, turn.language))

    async def button(self, update: Update, context: Context, action: CommandAction) -> None:
        """Like :meth:`command`, for a press of an ``op:`` button."""
        turn = await self.turn(update, context)
        if turn is None or turn.query is None:
            return
        operator = await self._operator(update)
        if operator is None:
            await self.expire(turn)
            return
        await turn.query.answer()
        try:
            await action(turn, operator)
        except NotAnOperator:
            await turn.take_buttons()
        except PortPassError as error:
            await turn.show(messages.render_error(error, turn.language))

    async def expire(self, turn: Turn) -> None:
        """What a stale button gets: a short notice, and the buttons taken away."""
        if turn.query is not None:
            await turn.query.answer(messages.text("telegram.button_expired", turn.language))
        await turn.take_buttons()

    async def pass_on(self, update: Update, context: Context) -> None:
        """Hand the update to the first other handler of the group that accepts it, as
        PTB would have done without this feature's handlers."""
        application = context.application
        group: list[BaseHandler[Any, Any, Any]] = application.handlers.get(_FEATURE_GROUP, [])
        for handler in group:
            if id(handler) in self._own:
                continue
            check = handler.check_update(update)
            if check is None or check is False:
                continue
            await handler.handle_update(update, application, check, context)
            return

    async def _operator(self, update: Update) -> Operator | None:
        user = update.effective_user
        if user is None:
            return None
        return await self.services.operator_lifecycle.operator_for(str(user.id))

    async def _language(self, update: Update) -> str:
        """The chat's conversation language (``/lang`` sets it), else the user's Telegram
        language, else the configured default: what the holder flow would answer in."""
        who = participant(update)
        async with self.services.uow() as uow:
            stored = await uow.conversations.get(who.key)
        if stored is not None and stored.language:
            return stored.language
        if who.language_hint:
            return messages.lang_or_default(who.language_hint)
        return self.services.config.verification.default_language
