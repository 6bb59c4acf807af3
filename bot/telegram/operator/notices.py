"""``/notices [unreachable]``: the recent notices of the operator's company (an admin's:
every company), newest first, each with what became of it — the SMS's state, or why
nobody could be texted (the holder never verified, must verify again, or opted out).

Only translation here: the use case (:meth:`core.notices.service.NoticeService.recent_for`)
decides what the operator may see and audits the read; :mod:`core.notices.texts` lays
the lines out.
"""

from __future__ import annotations

from telegram import Update

from bot.telegram.operator.chat import Context, OperatorChat, Turn
from bot.telegram.operator.render import scope
from core import messages
from core.model import Operator
from core.notices.texts import list_text
from core.values import normalise

#: ``/notices unreachable`` in the words an operator may type, either language.
_UNREACHABLE_WORDS = frozenset({"unreachable", "無法通知", "无法通知", "未通知"})


class OperatorNotices:
    def __init__(self, chat: OperatorChat) -> None:
        self._chat = chat

    async def notices(self, update: Update, context: Context) -> None:
        async def show(turn: Turn, operator: Operator) -> None:
            words = normalise(" ".join(turn.args)).lower()
            if words and words not in _UNREACHABLE_WORDS:
                await turn.say(messages.text("notice.list_usage", turn.language))
                return
            service = self._chat.services.notices
            unreachable_only = bool(words)
            shown, total = await service.recent_for(operator, unreachable_only=unreachable_only)
            await turn.say(
                list_text(
                    shown,
                    total,
                    scope=scope(operator, turn.language),
                    days=service.recent_days,
                    unreachable_only=unreachable_only,
                    with_company=operator.is_admin,
                    language=turn.language,
                )
            )

        await self._chat.command(update, context, show)
