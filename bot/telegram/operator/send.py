"""``/send PASS_NO [NEW_PHONE]``: an operator has a code texted for a pass (R5, R6), after
the guide's question (R4) answered with inline 確定 / 取消 buttons.

The question is kept in the database (:mod:`core.operators.questions`) and the 確定
button carries only its random handle, so a restart or a second instance can take the
answer, and nobody can forge one with a pass and a guessed phone (that was an oracle
for the phone on file of any pass: docs/security.md, "Operator buttons"). On a press
the presser must still be the operator it was asked for, within a day, once; bad presses
are counted and cool the operator down. A phone on file that changed after the question
was asked is not texted, since the operator confirmed another number. The
use case :meth:`core.verification.service.VerificationService.request_as_operator` applies R2 and
R6 again, writes the SMS to the outbox and the audit entry, and marks a new number to
replace the phone on file once the holder verifies it. To the phone on file it re-issues
a code even within R2's 24 hours (a stranger who asked first must not block the holder);
the answer then says the earlier code no longer works.
"""

from __future__ import annotations

from telegram import Update

from bot.telegram.operator.args import parse_send
from bot.telegram.operator.chat import Context, OperatorChat, Turn
from bot.telegram.operator.render import (
    CANCEL_DATA,
    parse_ask_data,
    parse_send_data,
    send_markup,
)
from core import messages
from core.errors import NotAnOperator, PortPassError
from core.model import Channel, Operator
from core.operators.passes import operator_requester
from core.operators.questions import SendQuestion
from core.operators.views import PassView
from core.values import PassNumber, Phone


class OperatorSends:
    def __init__(self, chat: OperatorChat) -> None:
        self._chat = chat
        services = chat.services
        self._verification = services.verification
        self._questions = services.send_questions
        self._regions = services.config.phone.allowed_regions
        # The SMS goes to the holder, whose language we do not know: the default, not
        # the operator's chat language.
        self._sms_language = services.config.verification.default_language

    async def ask(self, update: Update, context: Context) -> None:
        """``/send``: check the pass and phone, then ask R4's question."""

        async def ask(turn: Turn, operator: Operator) -> None:
            if not turn.args:
                await turn.say(messages.text("operator.send_usage", turn.language))
                return
            pass_no, new_phone = parse_send(turn.args, self._regions)
            await self._question(turn, operator, pass_no, new_phone)

        await self._chat.command(update, context, ask)

    async def ask_from_button(self, update: Update, context: Context) -> None:
        """A 發送驗證碼 button under ``/pass`` or a ``/passes`` row: the same question as
        ``/send PASS``, as a new message (the list or pass stays, with its buttons)."""

        async def ask(turn: Turn, operator: Operator) -> None:
            pass_no = parse_ask_data(turn.query.data or "") if turn.query else None
            if pass_no is None:
                await turn.take_buttons()
                return
            try:
                await self._question(turn, operator, pass_no, None)
            except NotAnOperator:
                raise
            except PortPassError as error:  # said below: the list above stays as it is
                await turn.say(messages.render_error(error, turn.language))

        await self._chat.button(update, context, ask)

    async def _question(
        self, turn: Turn, operator: Operator, pass_no: PassNumber, new_phone: Phone | None
    ) -> None:
        """R4's question with 確定 / 取消; the use case checks the pass and phone first
        (R2, R6), and R10 decides what the operator sees of a pass not theirs."""
        record, phone = await self._verification.operator_target(
            pass_no, new_phone, operator=operator
        )
        # What the operator may see of the pass (and the audit entry of their look).
        view = await self._chat.services.operators.get_pass(operator, record.pass_no)
        new_number = new_phone is not None
        handle = await self._questions.ask(operator, record.pass_no, phone, new_number=new_number)
        question = messages.text(
            "request.confirm_operator",
            turn.language,
            pass_no=record.pass_no.value,
            phone=phone.display if new_number else view.phone,
        )
        await turn.say(question, send_markup(handle, turn.language))

    async def answer(self, update: Update, context: Context) -> None:
        """確定 sends the code; 取消 says so. Either way the question loses its buttons."""

        async def answer(turn: Turn, operator: Operator) -> None:
            data = turn.query.data if turn.query else None
            if data == CANCEL_DATA:
                await turn.show(messages.text("operator.send_cancelled", turn.language))
                return
            if not await turn.take_buttons():  # an earlier tap answered this question
                return
            # Malformed data is a bad press too: it is counted like a wrong handle.
            question = await self._questions.take(operator, parse_send_data(data or "") or "")
            if question is None:  # forged, expired, spent, or asked for another account
                await turn.show(messages.text("telegram.button_expired", turn.language))
                return
            await self._send(turn, operator, question)

        await self._chat.button(update, context, answer)

    async def _send(self, turn: Turn, operator: Operator, choice: SendQuestion) -> None:
        new_phone: Phone | None = choice.phone if choice.new_number else None
        record, target = await self._verification.operator_target(choice.pass_no, new_phone)
        if target != choice.phone:  # only the phone on file can change under the question
            changed = messages.text(
                "operator.phone_changed", turn.language, pass_no=choice.pass_no.value
            )
            await turn.show(changed)
            return
        requester = operator_requester(operator, Channel.TELEGRAM, self._sms_language)
        sent = await self._verification.request_as_operator(
            operator, requester, choice.pass_no, new_phone
        )
        detail = messages.text(
            "operator.sent_detail",
            turn.language,
            pass_no=sent.pass_no.value,
            phone=_shown(choice, PassView.of(record, owned=operator.owns(record))),
            expires_at=sent.expires_at,
        )
        # What to tell the holder: the operator is the one they will ask.
        lines = [messages.text("operator.sent", turn.language), detail]
        if sent.replaced:
            lines.append(messages.text("operator.reissued", turn.language))
        lines.append(messages.text("operator.tell_holder", turn.language))
        await turn.show("\n".join(lines))


def _shown(choice: SendQuestion, view: PassView) -> str:
    """The phone as the operator may see it: a number they typed, in full; the phone on
    file as ``/pass`` shows it (in full if owned, masked if not: R10)."""
    return choice.phone.display if choice.new_number else view.phone
