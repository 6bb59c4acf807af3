"""The operator's reading commands: ``/link``, ``/unlink``, ``/help``, ``/passes`` (with its
page buttons), ``/pass``, ``/stats`` and ``/export``.

Each handler only translates: the words typed become checked values, the use case in
:class:`core.operators.passes.OperatorService` decides what the operator may see (and writes
the audit entry), :class:`core.operators.lifecycle.OperatorLifecycle` links and unlinks,
and :mod:`bot.telegram.operator.render` lays the answer out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update

from bot.telegram.menus import holder_help
from bot.telegram.operator.args import UnknownStatus, parse_pass, parse_status
from bot.telegram.operator.chat import Context, OperatorChat, Turn
from bot.telegram.operator.render import (
    page_markup,
    page_text,
    parse_page_data,
    pass_markup,
    pass_text,
    scope,
    stats_text,
)
from core import messages
from core.clock import TAIPEI
from core.errors import PortPassError
from core.model import Operator
from core.operators.views import export_csv

if TYPE_CHECKING:
    from core.operators.lifecycle import OperatorLifecycle
    from core.operators.passes import OperatorService


class OperatorCommands:
    def __init__(self, chat: OperatorChat) -> None:
        self._chat = chat

    @property
    def _operators(self) -> OperatorService:
        return self._chat.services.operators

    @property
    def _lifecycle(self) -> OperatorLifecycle:
        return self._chat.services.operator_lifecycle

    # --- linking: the only commands a non-operator can use -------------------------------

    async def link(self, update: Update, context: Context) -> None:
        turn = await self._chat.turn(update, context)
        if turn is None:
            return
        if not turn.args:
            await turn.say(messages.text("operator.link_usage", turn.language))
            return
        try:
            operator = await self._lifecycle.link(turn.user_id, " ".join(turn.args))
        except PortPassError as error:  # InvalidLinkCode, TooManyFailures
            await turn.say(messages.render_error(error, turn.language))
            return
        linked = messages.text(
            "operator.linked", turn.language, name=operator.name, company=operator.company
        )
        await turn.say(f"{linked}\n\n{messages.text('operator.help', turn.language)}")
        await self._chat.menus.set(turn.bot, turn.chat_id)

    async def unlink(self, update: Update, context: Context) -> None:
        turn = await self._chat.turn(update, context)
        if turn is None:
            return
        if await self._lifecycle.unlink(turn.user_id) is None:
            await self._chat.pass_on(update, context)  # nothing to unlink: no hint either
            return
        await turn.say(messages.text("operator.unlinked", turn.language))
        await self._chat.menus.remove(turn.bot, turn.chat_id)

    async def help(self, update: Update, context: Context) -> None:
        """An operator's ``/help``: the holder's help and slash commands, then the operator
        commands."""

        async def show(turn: Turn, _operator: Operator) -> None:
            holder = holder_help(turn.language)
            await turn.say(f"{holder}\n\n{messages.text('operator.help', turn.language)}")

        await self._chat.command(update, context, show, stale_menu=False)

    # --- reading ------------------------------------------------------------------------------

    async def passes(self, update: Update, context: Context) -> None:
        async def show(turn: Turn, operator: Operator) -> None:
            try:
                status = parse_status(turn.args)
            except UnknownStatus:
                await turn.say(messages.text("operator.passes_usage", turn.language))
                return
            page = await self._operators.list_passes(operator, status)
            whose = scope(operator, turn.language)
            await turn.say(page_text(page, whose, turn.language), page_markup(page, turn.language))

        await self._chat.command(update, context, show)

    async def turn_page(self, update: Update, context: Context) -> None:
        """◀ / ▶ under a list: the same message shows the other page."""

        async def show(turn: Turn, operator: Operator) -> None:
            query = turn.query
            wanted = parse_page_data(query.data or "") if query else None
            if wanted is None:
                await turn.take_buttons()
                return
            page = await self._operators.list_passes(operator, wanted[0], wanted[1])
            whose = scope(operator, turn.language)
            await turn.show(page_text(page, whose, turn.language), page_markup(page, turn.language))

        await self._chat.button(update, context, show)

    async def pass_(self, update: Update, context: Context) -> None:
        async def show(turn: Turn, operator: Operator) -> None:
            if not turn.args:
                await turn.say(messages.text("operator.pass_usage", turn.language))
                return
            view = await self._operators.get_pass(operator, parse_pass(turn.args))
            await turn.say(pass_text(view, turn.language), pass_markup(view, turn.language))

        await self._chat.command(update, context, show)

    async def stats(self, update: Update, context: Context) -> None:
        async def show(turn: Turn, operator: Operator) -> None:
            counts = await self._operators.stats(operator)
            await turn.say(stats_text(counts, scope(operator, turn.language), turn.language))

        await self._chat.command(update, context, show)

    async def export(self, update: Update, context: Context) -> None:
        """The company's status table as a CSV document, named for the day (Taipei)."""

        async def send(turn: Turn, operator: Operator) -> None:
            rows = await self._operators.export_rows(operator)
            today = self._chat.services.clock.now().astimezone(TAIPEI).date()
            caption = messages.text(
                "operator.export_caption",
                turn.language,
                scope=scope(operator, turn.language),
                rows=len(rows),
            )
            await turn.bot.send_document(
                turn.chat_id,
                export_csv(rows, turn.language),
                filename=f"portpass-status-{today.isoformat()}.csv",
                caption=caption,
            )

        await self._chat.command(update, context, send)
