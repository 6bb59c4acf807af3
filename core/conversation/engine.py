"""One conversation engine for SMS and Telegram: ``state + input -> state + replies``.

Channels translate transport messages into :mod:`core.conversation.state` inputs and render
the replies (buttons on Telegram, numbered options on SMS); every step of the holder's
dialogue, and what it says, is decided here. State is loaded and saved through the unit
of work, so a restart or a second process continues the same conversation.

Why one module: it is one state machine, and its transitions read (and are
checked) best side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from core import messages
from core.conversation.state import (
    Choice,
    Conversation,
    Input,
    Option,
    Participant,
    Reply,
    SharedContact,
    Step,
    Text,
    Turn,
    choice_action,
)
from core.conversation.whole_request import WholeRequest, read_whole_request
from core.conversation.words import WORDS, find_code
from core.conversation.words import key as word_key
from core.errors import (
    AlreadyRequested,
    IdChecksumMismatch,
    InvalidInput,
    NoOpenRequest,
    PortPassError,
    WrongCode,
)
from core.masking import mask_pass
from core.model import Channel, Requester
from core.opt_outs import model as opt_outs
from core.opt_outs.records import record_opt_in, record_opt_out
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from core.status import status_of
from core.values import IdNumber, PassNumber, Phone, normalise, parse_code
from core.verification.service import VerificationService
from core.verification.sms_text import pages

# None of these may be one of the provider's own words (core.opt_outs.model.PROVIDER_WORDS):
# Twilio acts on STOP, CANCEL, YES, HELP... by itself, so a holder told to send CANCEL
# would be unsubscribed from every SMS, and YES would opt them back in, not confirm.
# Typed alone. Natural-language start, yes and no words (「我要驗證手機」, 好, có, ya) are
# in each language's catalogue (core.conversation.words), not here.
_START = {"V", "/START", "/VERIFY"}
_CANCEL = {"取消", "2", "/CANCEL"}
_HELP = {"說明", "说明", "?", "/HELP"}
# HELP typed in English is answered in English (and the conversation goes on in English):
# whoever types it reads English. In a chat only: over SMS, HELP is Twilio's word, which
# Twilio answers itself (see _on_provider_word).
_HELP_ENGLISH = {"HELP"}
_STATUS = {"狀態", "状态", "STATUS", "/STATUS"}
_STATUS_PAGE = re.compile(r"^(?:狀態|状态|STATUS)\s*([0-9]{1,4})$")  # "STATUS 2", "狀態2"
# A language by its word, typed alone, at any step. ``ID`` is never an ID number (those
# are a letter and nine digits, or a legacy code of letters and digits), so at the ID
# question it switches to Indonesian too, and the question is asked again in Indonesian.
_LANGUAGE_WORDS = {
    **dict.fromkeys(("中文", "ZH", "繁中"), messages.ZH),
    **dict.fromkeys(("EN", "ENGLISH"), messages.EN),
    **dict.fromkeys(("VI", "TIẾNG VIỆT", "TIENG VIET"), messages.VI),
    **dict.fromkeys(("ID", "BAHASA INDONESIA", "INDONESIA"), messages.ID),
}
# /lang: Telegram offers every language as a button; SMS has no buttons, so it names the words.
_LANG_MENU = {"/LANG"}
#: The action of a language button's choice value (``lang:vi``).
LANGUAGE_CHOICE = "lang"
_YES = {"1"} | WORDS.yes
_NO = {"2"} | WORDS.no
# At the check-digit question: "the number is right, go on".
_ID_IS_RIGHT = {"1"} | WORDS.yes
#: Every word the SMS conversation reads as a command (none is one of Twilio's own).
COMMAND_WORDS = (
    frozenset(_START | _CANCEL | _HELP | _STATUS | _LANG_MENU | _YES | _NO)
    | frozenset(WORDS.start)
    | frozenset(_ID_IS_RIGHT)
    | frozenset(_LANGUAGE_WORDS)
)


#: The steps that ask a question of their own (:meth:`ConversationEngine._ask`).
_QUESTIONS = frozenset({Step.ASK_PASS, Step.ASK_ID, Step.ASK_PHONE, Step.CONFIRM})


@dataclass(frozen=True, slots=True)
class DialoguePolicy:
    idle_timeout: timedelta = timedelta(minutes=30)
    allowed_regions: tuple[str, ...] = ("TW",)
    default_language: str = messages.ZH
    #: Per language, the organisation's name, phone and page a holder can check
    #: (``[organisation]``), sent after every help reply; none when empty.
    contact: Mapping[str, str] = field(default_factory=dict)


def _word(text: str) -> str:
    """Normalised as every value is (:func:`core.values.normalise`: NFKC, digits of any
    script in ASCII, invisible format marks gone), upper case, and a Telegram
    ``/cmd@botname`` reduced to ``/CMD``."""
    word = normalise(text).upper()
    if word.startswith("/"):
        word = word.split()[0].split("@")[0]
    return word


class ConversationEngine:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        verification: VerificationService,
        policy: DialoguePolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._verification = verification
        self._policy = policy

    async def handle(
        self, who: Participant, message: Input, *, message_id: str | None = None
    ) -> Turn:
        """One turn, in one unit of work: the state read, the action it causes (a code
        sent, a code checked) and the new state are committed together, and the
        :class:`Turn` returned holds all the channel needs to answer, so it reads
        nothing back afterwards.

        With ``message_id`` (Twilio's MessageSid) the turn happens once: a retry of the
        same message gets the first turn back and changes nothing. The claim is in the
        same transaction, so a turn that fails leaves no claim behind."""
        now = self._clock.now()
        async with self._uow() as uow:
            if message_id is None:
                stored = await uow.conversations.get(who.key)
            else:
                phone = Phone(who.phone) if who.phone else None
                claimed, stored = await uow.inbound.claim_turn(
                    who.channel, message_id, now, who.key, phone
                )
                if not claimed:
                    stored_turn = self._stored_turn(
                        await uow.inbound.reply_for(who.channel, message_id)
                    )
                    return replace(stored_turn, repeated=True)
            state, replies = self._expire(stored, now, who)
            before = state.language
            state, more = await self._step(state, who, message, uow, now)
            if who.phone is not None and state.language and state.language != before:
                # An SMS holder chose a language: what this phone gets unasked follows.
                await uow.phone_languages.remember(Phone(who.phone), state.language, now)
            replies = await self._deliverable(who, replies + more, uow)
            await uow.conversations.save(who.key, state.with_(updated_at=now))
            turn = Turn(
                replies=tuple(replies),
                language=self._lang(state),
                step=state.step,
                previous_step=stored.step if stored is not None else Step.IDLE,
            )
            if message_id is not None:
                await uow.inbound.remember(who.channel, message_id, _turn_to(turn))
            await uow.commit()
        return turn

    def _stored_turn(self, stored: str | None) -> Turn:
        """``None``: the first delivery has not finished (or never will): say nothing now."""
        if not stored:
            return Turn(replies=(), language=self._policy.default_language)
        return Turn.from_json(json.loads(stored), self._policy.default_language)

    def _expire(
        self, stored: Conversation | None, now: datetime, who: Participant
    ) -> tuple[Conversation, list[Reply]]:
        if stored is None:
            return Conversation(language=self._language_from_hint(who)), []
        idle = stored.updated_at is not None and now - stored.updated_at > self._policy.idle_timeout
        # Waiting for a code is not idling: the code lives 24 hours, and checking it will
        # say so if it has expired. Only the questions before it time out.
        if idle and stored.step not in (Step.IDLE, Step.AWAIT_CODE):
            lang = self._lang(stored)
            return stored.restart(), [Reply(messages.text("conv.timed_out", lang))]
        return stored, []

    def _language_from_hint(self, who: Participant) -> str:
        if who.language_hint:
            return messages.lang_or_default(who.language_hint)
        return self._policy.default_language

    def _lang(self, state: Conversation) -> str:
        return state.language or self._policy.default_language

    def _requester(self, state: Conversation, who: Participant) -> Requester:
        return Requester(
            key=who.key,
            channel=Channel(who.channel),
            actor=who.actor,
            language=self._lang(state),
            phone=Phone(who.phone) if who.phone else None,
        )

    # --- dispatch ----------------------------------------------------------------------------

    async def _step(
        self, state: Conversation, who: Participant, message: Input, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        """``now`` is the turn's one time, read once in :meth:`handle`: everything the
        turn writes (request, SMS, audit entries, opt-out, conversation) carries the same."""
        lang = self._lang(state)
        if isinstance(message, SharedContact):
            return await self._on_contact(state, who, message, uow, now)
        if isinstance(message, Choice):
            return await self._on_choice(state, who, message.value, uow, now)
        if who.phone is not None:  # an SMS: the provider's opt-out words come first
            answered = await self._on_provider_word(state, Phone(who.phone), who, message, uow, now)
            if answered is not None:
                return answered
        word = _word(message.text)
        if word in _CANCEL:
            return state.restart(), [Reply(messages.text("conv.cancelled", lang))]
        if word in _HELP:
            return state, self._help(lang)
        if word in _HELP_ENGLISH:
            return state.with_(language=messages.EN), self._help(messages.EN)
        if word in _LANGUAGE_WORDS:
            return self._switch_language(state, _LANGUAGE_WORDS[word])
        if word in _LANG_MENU:
            return state, [self._language_menu(state, who)]
        if word in _STATUS or _STATUS_PAGE.match(word):
            return state, [await self._status(state, who, uow, page=_status_page(word))]
        if word in _START or word_key(message.text) in WORDS.start:  # a start word alone
            return await self._start(state, who, uow, now)
        whole = read_whole_request(message.text)
        if whole is not None and (whole.keyword or state.step in (Step.IDLE, Step.ASK_PASS)):
            return await self._whole_request(state, who, whole, uow, now)
        if self._starts(state, message.text):
            return await self._start(state, who, uow, now)
        handler = {
            Step.ASK_PASS: self._on_pass,
            Step.ASK_ID: self._on_id,
            Step.ASK_PHONE: self._on_phone_text,
            Step.CONFIRM: self._on_confirm_text,
            Step.AWAIT_CODE: self._on_code,
        }.get(state.step)
        if handler is not None:
            return await handler(state, who, message.text, uow, now)
        if who.phone and _code_in(message.text) is not None:
            return await self._on_code(state, who, message.text, uow, now)
        return state, [Reply(messages.text("conv.short_help", lang))]

    @staticmethod
    def _starts(state: Conversation, text: str) -> bool:
        """A message containing a start word (「我要驗證手機」, "I want to verify") starts
        the verification, unless it holds a code (「驗證碼726473」 pasted from the SMS is
        the code), answers the confirm question (「好，驗證」 is a yes) or is a command
        (``/passes 未驗證``, an operator's)."""
        if state.step is Step.CONFIRM or text.lstrip().startswith("/"):
            return False
        if _code_in(text) is not None:
            return False
        return WORDS.starts(text)

    def _help(self, language: str) -> list[Reply]:
        """The help, then whom the holder can check the bot with (a message of its own:
        an SMS help already takes its segments, and the line must never be cut off)."""
        contact = self._policy.contact.get(language)
        help_ = Reply(messages.text("conv.help", language))
        return [help_, Reply(contact)] if contact else [help_]

    def _switch_language(
        self, state: Conversation, language: str
    ) -> tuple[Conversation, list[Reply]]:
        """Said in the new language; a question the holder was answering is asked again
        in it, so nobody is left at a question in a language they just left (``ID`` typed
        at the ID question, say)."""
        new = state.with_(language=language)
        replies = [Reply(messages.text("conv.language_set", language))]
        if new.step in _QUESTIONS:
            replies.append(self._ask(new.step, new))
        elif new.step is Step.AWAIT_CODE:
            replies.append(Reply(messages.text("conv.ask_code", language)))
        return new, replies

    def _language_menu(self, state: Conversation, who: Participant) -> Reply:
        """``/lang``: a button per language on Telegram, each named in its own words; an
        SMS (which has no buttons) gets the words to send instead."""
        lang = self._lang(state)
        if who.phone is not None:
            return Reply(messages.text("conv.language_words", lang))
        options = tuple(
            Option(f"{LANGUAGE_CHOICE}:{language}", messages.NAMES[language])
            for language in messages.LANGUAGES
        )
        return Reply(messages.text("conv.choose_language", lang), options=options)

    # --- opting out of SMS ------------------------------------------------------------------

    async def _on_provider_word(
        self,
        state: Conversation,
        phone: Phone,
        who: Participant,
        message: Text,
        uow: UnitOfWork,
        now: datetime,
    ) -> tuple[Conversation, list[Reply]] | None:
        """STOP and its kin record an opt-out, and get no answer from us (Twilio sends
        its own, and would refuse ours); START and its kin lift one; HELP and INFO are
        Twilio's to answer (its help text is set in the messaging service's Advanced
        Opt-Out), so we add nothing. ``None``: not such a word, or an opt-in word from a
        phone that had not opted out, which is then an ordinary message (YES at the
        confirmation re-asks it)."""
        word = opt_outs.keyword(message.text)
        if word in opt_outs.HELP_WORDS:
            return state, []
        if word in opt_outs.OPT_OUT_WORDS:
            record = opt_outs.OptOut(phone, now, opt_outs.OptOutSource.KEYWORD, word)
            await record_opt_out(uow.opt_outs, uow.audit, record, actor=who.actor)
            return state.restart(), []
        if word in opt_outs.OPT_IN_WORDS and await record_opt_in(
            uow.opt_outs, uow.audit, phone, now, word, actor=who.actor
        ):
            # Chinese and English: short, and read by someone who just came back.
            text = "\n".join(messages.text("sms.opted_in", lang) for lang in messages.BILINGUAL)
            return state, [Reply(text)]
        return None

    async def _deliverable(
        self, who: Participant, replies: list[Reply], uow: UnitOfWork
    ) -> list[Reply]:
        """Nothing for a phone that opted out of SMS: a reply is an SMS too, and the
        provider would refuse it. What the message did (a code checked) still stands."""
        if who.phone is None or not replies:
            return replies
        return [] if await uow.opt_outs.is_opted_out(Phone(who.phone)) else replies

    # --- steps --------------------------------------------------------------------------------

    async def _start(
        self, state: Conversation, who: Participant, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        fresh = state.restart()
        try:
            await self._verification.ensure_not_cooling_down(
                self._requester(fresh, who), uow=uow, now=now
            )
        except PortPassError as error:
            return fresh, [self._error(error, fresh)]
        return fresh.with_(step=Step.ASK_PASS), [self._ask(Step.ASK_PASS, fresh)]

    async def _whole_request(
        self,
        state: Conversation,
        who: Participant,
        whole: WholeRequest,
        uow: UnitOfWork,
        now: datetime,
    ) -> tuple[Conversation, list[Reply]]:
        """``驗證 KHPS113-000043 QQ12345673``: a fresh start that has answered the first
        two questions already; the ID is checked as if typed on its own."""
        fresh, replies = await self._start(state, who, uow, now)
        if fresh.step is not Step.ASK_PASS:
            return fresh, replies  # cooling down: said so
        asked_id = fresh.with_(step=Step.ASK_ID, pass_no=whole.pass_no.value)
        return await self._on_id(asked_id, who, whole.id_text, uow, now)

    async def _on_pass(
        self, state: Conversation, who: Participant, text: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        try:
            pass_no = PassNumber.parse(text)
        except InvalidInput as error:
            return state, [self._error(error, state)]
        new = state.with_(step=Step.ASK_ID, pass_no=pass_no.value)
        return new, [self._ask(Step.ASK_ID, new)]

    async def _on_id(
        self, state: Conversation, who: Participant, text: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        if state.unconfirmed_id and word_key(text) in _ID_IS_RIGHT:
            # The answer to the check-digit question: the number is right, go on.
            text = state.unconfirmed_id
        try:
            id_no = IdNumber.parse(text)
        except IdChecksumMismatch as error:
            typed = str(error.fields["value"])
            if state.unconfirmed_id != typed:
                # Said before any lookup; typing the same number again accepts it, since
                # the registry itself holds IDs whose check digit is wrong.
                return state.with_(unconfirmed_id=typed), [self._error(error, state)]
            id_no = IdNumber.parse(typed, trust_check_digit=False)
        except InvalidInput as error:
            return state, [self._error(error, state)]
        new = state.with_(id_no=id_no.value, unconfirmed_id=None)
        if who.phone:
            return self._confirm(new.with_(phone=who.phone))
        new = new.with_(step=Step.ASK_PHONE)
        return new, [self._ask(Step.ASK_PHONE, new)]

    async def _on_phone_text(
        self, state: Conversation, who: Participant, text: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        try:
            phone = Phone.parse(text, regions=self._policy.allowed_regions)
        except InvalidInput as error:
            return state, [self._error(error, state), self._ask(Step.ASK_PHONE, state)]
        return self._confirm(state.with_(phone=phone.e164))

    async def _on_contact(
        self,
        state: Conversation,
        who: Participant,
        contact: SharedContact,
        uow: UnitOfWork,
        now: datetime,
    ) -> tuple[Conversation, list[Reply]]:
        lang = self._lang(state)
        if state.step is not Step.ASK_PHONE:
            return state, [Reply(messages.text("conv.short_help", lang))]
        if not contact.own:
            return state, [Reply(messages.text("conv.contact_not_own", lang), ask_contact=True)]
        return await self._on_phone_text(state, who, contact.phone, uow, now)

    def _confirm(self, state: Conversation) -> tuple[Conversation, list[Reply]]:
        new = state.with_(step=Step.CONFIRM)
        return new, [self._ask(Step.CONFIRM, new)]

    async def _on_confirm_text(
        self, state: Conversation, who: Participant, text: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        word = word_key(text)
        if word in _YES:
            return await self._on_choice(state, who, "confirm", uow, now)
        if word in _NO:
            return await self._on_choice(state, who, "cancel", uow, now)
        # Not an answer: say so, with the choices again (SMS adds "reply 1 or 2",
        # Telegram shows the buttons again).
        return state, [self._ask(Step.CONFIRM, state, key="conv.confirm_unclear")]

    async def _on_choice(
        self, state: Conversation, who: Participant, value: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        lang = self._lang(state)
        if choice_action(value) == LANGUAGE_CHOICE:
            chosen = value.partition(":")[2]
            if chosen in messages.LANGUAGES:
                return self._switch_language(state, chosen)
            return state, [Reply(messages.text("conv.short_help", lang))]
        if state.step is not Step.CONFIRM:
            return state, [Reply(messages.text("conv.short_help", lang))]
        # A button names the pass its question was about: a tap on an older question's
        # button must not answer the current one. Typed answers ("1", "2") name none.
        about = value.partition(":")[2]
        if about and about != state.pass_no:
            return state, [
                Reply(messages.text("conv.stale_choice", lang)),
                self._ask(Step.CONFIRM, state),
            ]
        if choice_action(value) != "confirm":
            return state.restart(), [Reply(messages.text("conv.cancelled", lang))]
        if not (state.pass_no and state.id_no and state.phone):
            return state.restart(), [Reply(messages.text("conv.short_help", lang))]
        try:
            sent = await self._verification.request_as_holder(
                self._requester(state, who),
                PassNumber(state.pass_no),
                IdNumber(state.id_no),
                Phone(state.phone),
                uow=uow,
                now=now,
            )
        except AlreadyRequested as error:
            # This participant asked earlier (or holds the phone): the code still works.
            waiting = state.with_(step=Step.AWAIT_CODE, request_id=None)
            return waiting, [self._error(error, state)]
        except PortPassError as error:
            return state.restart(), [self._error(error, state)]
        waiting = state.with_(
            step=Step.AWAIT_CODE,
            request_id=sent.request_id,
            own_passes=_add(state.own_passes, sent.pass_no.value),
        )
        if sent.joined:
            # Someone else asked first (another chat, an operator): R2 sent no second
            # code, but this chat passed R1 and may type the one on the holder's phone.
            # One message: what happened and what to do (the code or the link).
            told = messages.text("request.joined", lang, expires_at=sent.expires_at)
            return waiting, [Reply(told)]
        # One message: "sent" and what to do with it (the code or the link).
        return waiting, [Reply(messages.text("request.sent", lang))]

    async def _on_code(
        self, state: Conversation, who: Participant, text: str, uow: UnitOfWork, now: datetime
    ) -> tuple[Conversation, list[Reply]]:
        lang = self._lang(state)
        code = _code_in(text)
        if code is None:
            return state, [Reply(messages.text("conv.ask_code_hint", lang))]
        phone = state.phone or who.phone
        if phone is None:
            return state, [self._error(NoOpenRequest(), state)]
        # An SMS sender has every code sent to their number (one phone on several passes):
        # the code picks the request. A typed phone (Telegram) keeps to this chat's request.
        request_id = None if who.phone else state.request_id
        try:
            verified = await self._verification.check_code(
                self._requester(state, who),
                Phone(phone),
                code,
                request_id=request_id,
                uow=uow,
                now=now,
            )
        except WrongCode as error:
            return state, [self._error(error, state)]
        except PortPassError as error:
            return state.restart(), [self._error(error, state)]
        done = state.restart().with_(own_passes=_add(state.own_passes, verified.pass_no.value))
        text_ = messages.text(
            "check.verified", lang, pass_no=verified.pass_no.value, phone=verified.phone.display
        )
        return done, [Reply(text_)]

    async def _status(
        self, state: Conversation, who: Participant, uow: UnitOfWork, *, page: int = 1
    ) -> Reply:
        """SMS: passes whose phone on file is the sender's; Telegram: passes this chat
        verified. Nothing about anyone else, and pass numbers masked. A list longer than
        the participant's ``max_segments`` comes in pages ("STATUS 2" for the second),
        each saying how to ask for the next."""
        lang = self._lang(state)
        records = await uow.passes.with_phone(Phone(who.phone)) if who.phone else []
        known = {r.pass_no for r in records}
        for value in state.own_passes:
            record = await uow.passes.get(PassNumber(value))
            if record is not None and record.pass_no not in known:
                records.append(record)
        if not records:
            key = "conv.status_none" if who.phone else "conv.status_none_chat"
            return Reply(messages.text(key, lang))
        lines = [
            messages.text(
                "conv.status_line",
                lang,
                pass_no=mask_pass(r.pass_no),
                status=messages.text(f"status.{status_of(r).value}", lang),
            )
            for r in records
        ]
        if who.max_segments is None:
            return Reply("\n".join(lines))

        def footer(number: int, total: int) -> str:
            if number == total:
                return messages.text("conv.status_last_page", lang, page=number, pages=total)
            return messages.text(
                "conv.status_page", lang, page=number, pages=total, next=number + 1
            )

        shown = pages(lines, who.max_segments, footer)
        return Reply(shown[min(max(page, 1), len(shown)) - 1])

    # --- texts -----------------------------------------------------------------------------------

    def _ask(self, step: Step, state: Conversation, *, key: str = "request.confirm") -> Reply:
        lang = self._lang(state)
        if step is Step.CONFIRM:
            return Reply(
                messages.text(key, lang, pass_no=state.pass_no or ""),
                options=(
                    Option(f"confirm:{state.pass_no}", messages.text("option.confirm", lang)),
                    Option(f"cancel:{state.pass_no}", messages.text("option.cancel", lang)),
                ),
            )
        question = {Step.ASK_PASS: "conv.ask_pass", Step.ASK_ID: "conv.ask_id"}.get(step)
        if question is not None:
            return Reply(messages.text(question, lang))
        return Reply(messages.text("conv.ask_phone", lang), ask_contact=True)

    def _error(self, error: PortPassError, state: Conversation) -> Reply:
        return Reply(messages.render_error(error, self._lang(state)))


def _turn_to(turn: Turn) -> str:
    return json.dumps(turn.to_json(), ensure_ascii=False)


def _code_in(text: str) -> str | None:
    """The code a message holds: the whole message as a code (``432 079``, ``٤٣٢٠٧٩``), or
    its one run of six digits (「驗證碼：２９３１７０」, "mã 684384"); ``None`` otherwise."""
    try:
        return parse_code(text)
    except InvalidInput:
        return find_code(text)


def _status_page(word: str) -> int:
    """The page a STATUS word asks for: ``STATUS 2`` the second, a bare one the first."""
    match = _STATUS_PAGE.match(word)
    return int(match.group(1)) if match else 1


def _add(items: Iterable[str], item: str) -> tuple[str, ...]:
    values = [v for v in items if v != item]
    return (*values, item)[-20:]
