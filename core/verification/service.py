"""The verification use cases: request a code, check a code, confirm a link.

All rules of the guide that decide *whether* a code is sent or accepted live here
(R1–R6), whichever channel asked; who may type a code, and how many wrong codes each
participant may type, is :mod:`core.verification.participants`. Each use case runs in
one unit of work, so the request, its SMS in the outbox and its audit entry are
committed together or not at all.

Why one module: the request, code and link use cases share the checks R1-R6
impose, which must be read together to see that no channel can skip one.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.clock import TAIPEI
from core.codes import SecretHasher, SecretSource
from core.errors import (
    AlreadyRequested,
    AlreadyRequestedElsewhere,
    AlreadyVerified,
    CodeCrowded,
    CodeExpired,
    CodeLockedHere,
    CodeSuperseded,
    NewPhoneNotOwned,
    NoMatch,
    NoOpenRequest,
    NoPhoneOnFile,
    NotAnOperator,
    PassNotFound,
    PassNotValid,
    PhoneOptedOut,
    PortPassError,
    RequestSpent,
    RequestStale,
    TooManyCodes,
    TooManyFailures,
    UnknownLink,
    WrongCode,
)
from core.masking import mask_pass, mask_phone
from core.model import (
    AuditEntry,
    Channel,
    Operator,
    Origin,
    OutgoingSms,
    PassRecord,
    Priority,
    Requester,
    RequestState,
    VerificationRequest,
)
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from core.values import IdNumber, PassNumber, Phone
from core.verification.participants import (
    after_joining,
    after_wrong_code,
    has_room,
    is_locked_out,
    may_enter_code,
)
from core.verification.sms_text import form_url, verification_link
from core.verification.wording import SmsWording

#: How far back a code check looks, to tell "expired" from "nothing was ever sent".
_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Policy:
    """The numbers behind the rules; from config, with the guide's values as defaults."""

    public_base_url: str
    code_ttl: timedelta = timedelta(hours=24)
    #: Wrong codes one participant may type for one code; then only they are locked out.
    max_code_attempts: int = 5
    lookup_failures_per_hour: int = 5
    #: The SMS's words per language, as configured (``[texts_<language>]``).
    wording: SmsWording = field(default_factory=SmsWording)
    #: The language of an SMS to a phone that never told us its own.
    default_language: str = "zh-TW"
    #: Participants that may hold a place on one code (core.verification.participants).
    max_joined: int = 4
    #: Codes one pass + ID + phone may get within ``code_ttl``: R2's one, and operators'
    #: re-issues (which keep a stranger's request from blocking the holder) up to this.
    max_codes_per_ttl: int = 4
    #: Whether a holder's SMS reply reaches us (Twilio to Taiwan: no). When it does not,
    #: an error that would say "reply to the SMS" points to the web form instead.
    sms_replies_arrive: bool = True

    @property
    def form_url(self) -> str | None:
        """Where a holder asks for a code when SMS replies cannot arrive; ``None`` when
        they can (the messages then say to reply)."""
        if self.sms_replies_arrive:
            return None
        return form_url(self.public_base_url)


@dataclass(frozen=True, slots=True)
class CodeSent:
    """A code the participant may now type. ``joined``: no new SMS; R2 had sent one to
    this pass, ID and phone already (someone else asked), and this participant, having
    passed R1, may type that one. ``replaced``: an operator's re-issue, and the earlier
    live code no longer works."""

    request_id: str
    pass_no: PassNumber
    phone: Phone
    expires_at: datetime
    joined: bool = False
    replaced: bool = False


@dataclass(frozen=True, slots=True)
class Verified:
    pass_no: PassNumber
    phone: Phone
    person_phone_updated: bool


@dataclass(frozen=True, slots=True)
class _Work:
    """A unit of work and whether this use case owns it (and so commits it)."""

    uow: UnitOfWork
    owned: bool

    async def commit(self) -> None:
        if self.owned:
            await self.uow.commit()


@dataclass(frozen=True, slots=True)
class LinkDetails:
    """What the link page shows before the holder confirms (masked there)."""

    pass_no: PassNumber
    phone: Phone
    expires_at: datetime


class VerificationService:
    """Each use case runs in its own unit of work, or in the caller's when ``uow`` is
    given: the conversation engine passes its own, so the conversation's new state is
    committed with the action that caused it, in one transaction. A caller that passes
    ``uow`` commits it, also after a :class:`PortPassError` (failed lookups and wrong
    codes are recorded before the error is raised and must be kept)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: SecretHasher,
        secrets: SecretSource,
        policy: Policy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._secrets = secrets
        self._policy = policy

    @asynccontextmanager
    async def _work(self, given: UnitOfWork | None) -> AsyncIterator[_Work]:
        if given is not None:
            yield _Work(given, owned=False)
            return
        async with self._uow() as uow:
            yield _Work(uow, owned=True)

    # --- requesting a code ---------------------------------------------------------------

    async def ensure_not_cooling_down(
        self, requester: Requester, *, uow: UnitOfWork | None = None, now: datetime | None = None
    ) -> None:
        """Lets a conversation refuse early, before the holder types three fields."""
        async with self._work(uow) as work:
            await self._check_cool_down(work.uow, requester, now or self._clock.now())

    async def request_as_holder(
        self,
        requester: Requester,
        pass_no: PassNumber,
        id_no: IdNumber,
        phone: Phone,
        *,
        uow: UnitOfWork | None = None,
        now: datetime | None = None,
    ) -> CodeSent:
        """R1, R2, R3: a code only when pass, ID and phone on file all match. ``now``:
        the caller's time for the whole transaction (a conversation turn reads it once)."""
        now = now or self._clock.now()
        async with self._work(uow) as work:
            await self._check_cool_down(work.uow, requester, now)
            record = await work.uow.passes.get(pass_no, lock=True)
            if record is None or record.id_no != id_no or record.phone != phone:
                await work.uow.failures.record(requester.failure_key, now)
                await self._audit(work.uow, requester, "request.no_match", pass_no, now)
                await work.commit()
                raise NoMatch()
            try:
                sent = await self._issue(
                    work.uow, record, phone, now, requester, Origin.HOLDER, operator=None
                )
            except CodeCrowded:
                await work.commit()  # the refusal's audit entry
                raise
            await work.commit()
            return sent

    async def operator_target(
        self,
        pass_no: PassNumber,
        new_phone: Phone | None = None,
        *,
        operator: Operator | None = None,
    ) -> tuple[PassRecord, Phone]:
        """The pass and the phone an operator request would text (for R4's question).
        With ``operator``, a new phone for another company's pass is refused here, before
        the question is asked; :meth:`request_as_operator` refuses it again regardless.
        So is a phone that opted out of SMS: no code could reach it."""
        async with self._uow() as uow:
            record = await uow.passes.get(pass_no)
            if record is None:
                raise PassNotFound(pass_no=pass_no.value)
            if operator is not None and new_phone is not None and not operator.owns(record):
                raise NewPhoneNotOwned(pass_no=record.pass_no.value)
            if record.phone is None:
                raise NoPhoneOnFile()
            target = new_phone or record.phone
            await self._check_textable(uow, target)
        return record, target

    async def request_as_operator(
        self,
        operator: Operator,
        requester: Requester,
        pass_no: PassNumber,
        new_phone: Phone | None = None,
        *,
        uow: UnitOfWork | None = None,
    ) -> CodeSent:
        """R5, R6: the operator names the pass (any pass, by its exact number) and may
        type a new number; that number replaces the phone on file once verified.

        To the phone on file an operator of the pass's company may re-issue a code within
        R2's 24 hours (up to :attr:`Policy.max_codes_per_ttl` codes): the earlier live
        code stops working.
        Whoever knows a holder's pass, ID and phone can ask for the day's code; the
        operator's re-issue is how the holder gets one anyway.

        A new number only for the operator's own company's passes (every pass for an
        admin), judged on the account as stored now, not as the channel last saw it:
        another company's pass gets its code at the phone on file, or an operator could
        move that holder's notifications to a number of their choosing.
        Even the phone on file typed in full is refused for it: accepting it would tell
        the operator whether a guessed number is the holder's."""
        now = self._clock.now()
        async with self._work(uow) as work:
            account = await work.uow.operators.get(operator.id)
            if account is None or account.is_revoked:
                raise NotAnOperator()
            current = account.operator
            record = await work.uow.passes.get(pass_no, lock=True)
            if record is None:
                raise PassNotFound(pass_no=pass_no.value)
            if new_phone is not None and not current.owns(record):
                await self._audit(
                    work.uow, requester, "request.new_phone_refused", record.pass_no, now
                )
                await work.commit()
                raise NewPhoneNotOwned(pass_no=record.pass_no.value)
            if record.phone is None:
                raise NoPhoneOnFile()
            target = new_phone or record.phone
            sent = await self._issue(
                work.uow, record, target, now, requester, Origin.OPERATOR, operator=current
            )
            await work.commit()
            return sent

    async def request_for_campaign(
        self,
        requester: Requester,
        record: PassRecord,
        *,
        uow: UnitOfWork,
        now: datetime,
        reminder: bool = False,
    ) -> CodeSent:
        """A campaign's SMS: the ordinary request to the phone on file, made
        when the campaign dispatches it, with the same rules (R2, R3, R6, validity), at
        campaign priority in the outbox. ``record`` is the pass as the dispatcher has
        just read it, locked, in ``uow``: claiming the target and making the request
        and its SMS commit together, in the dispatcher's transaction, at its ``now``."""
        if record.phone is None:
            raise NoPhoneOnFile()
        return await self._issue(
            uow,
            record,
            record.phone,
            now,
            requester,
            Origin.CAMPAIGN,
            operator=None,
            sms_kind="campaign",
            priority=Priority.CAMPAIGN,
            reminder=reminder,
        )

    async def _issue(
        self,
        uow: UnitOfWork,
        record: PassRecord,
        phone: Phone,
        now: datetime,
        requester: Requester,
        origin: Origin,
        operator: Operator | None,
        sms_kind: str = "verification",
        priority: Priority = Priority.OWN,
        reminder: bool = False,
    ) -> CodeSent:
        if not record.is_valid_on(_day(now)):
            raise PassNotValid(valid_from=record.valid_from, valid_to=record.valid_to)
        await self._check_textable(uow, phone)
        ttl = self._policy.code_ttl
        earlier = await uow.requests.latest_for(record.pass_no, record.id_no, phone, now - ttl)
        if earlier is not None and earlier.is_open(now) and not still_matches(earlier, record):
            # Sent before the registry changed the phone on file: it could never verify,
            # so it holds no R2 lock either.
            await self._close_stale(uow, earlier, requester, now)
            earlier = None
        replaced = False
        if earlier is not None and self._may_reissue(origin, operator, record, phone):
            await self._check_code_budget(uow, record, phone, now)
            replaced = await self._supersede(uow, earlier, requester, now)
            earlier = None
        if earlier is not None:
            if origin is Origin.HOLDER and earlier.is_open(now):
                return await self._admit(uow, earlier, requester, now)
            # R1 matched, and the asker typed this phone: they are told where it went.
            raise AlreadyRequested(
                retry_at=earlier.created_at + ttl,
                sent_at=earlier.created_at,
                phone=mask_phone(phone),
            )
        request_id = uuid.uuid4().hex
        code, token = self._secrets.code(), self._secrets.token()
        request = VerificationRequest(
            id=request_id,
            pass_no=record.pass_no,
            id_no=record.id_no,
            phone=phone,
            code_hash=self._hasher.code_hash(request_id, code),
            token_hash=self._hasher.token_hash(token),
            created_at=now,
            expires_at=now + ttl,
            origin=origin,
            channel=requester.channel,
            language=requester.language,
            update_person_phone=phone != record.phone,
            operator_id=operator.id if operator else None,
            requester_key=requester.key,
            phone_on_file=record.phone,
        )
        await uow.requests.add(request)
        link = verification_link(self._policy.public_base_url, token)
        language = await self._sms_language(uow, phone, requester, origin, now)
        body = self._policy.wording.verification(
            language, last4=record.pass_no.last4, code=code, link=link, reminder=reminder
        )
        sms = OutgoingSms(
            to=phone,
            body=body,
            request_id=request_id,
            kind=sms_kind,
            secrets=(code, token),
            expires_at=request.expires_at,
            # Told on Telegram if the SMS never arrives; an SMS sender cannot be told.
            notify_to=requester.key if requester.channel is Channel.TELEGRAM else None,
        )
        await uow.outbox.add(sms, now, priority=priority)
        await self._audit(
            uow,
            requester,
            f"request.{origin.value}",
            record.pass_no,
            now,
            phone=mask_phone(phone),
            new_phone="yes" if request.update_person_phone else "no",
            replaces="yes" if replaced else "no",
        )
        return CodeSent(request_id, record.pass_no, phone, request.expires_at, replaced=replaced)

    @staticmethod
    def _may_reissue(
        origin: Origin, operator: Operator | None, record: PassRecord, phone: Phone
    ) -> bool:
        """An operator of the pass's own company (or an admin) may re-issue a code to the
        phone on file within R2's 24 hours. Not another company's operator, who may see
        the pass by its exact number (R10): their re-issues could keep replacing the
        holder's code with one after another."""
        return (
            origin is Origin.OPERATOR
            and operator is not None
            and operator.owns(record)
            and phone == record.phone
        )

    async def _admit(
        self, uow: UnitOfWork, earlier: VerificationRequest, requester: Requester, now: datetime
    ) -> CodeSent:
        """R2 sends no second code, but this participant passed R1: it may type the code
        already sent (:mod:`core.verification.participants`). So a stranger who asked
        first cannot keep the holder from typing the code in the holder's own chat."""
        request = await uow.requests.get(earlier.id) or earlier  # locked: counts change
        if is_locked_out(request, requester, self._policy.max_code_attempts):
            raise CodeLockedHere()
        if request.requester_key == requester.key or requester.phone == request.phone:
            # Asked here, or holds the phone: the code it got still works.
            # The phone was typed here (or is the one held): where and when it went.
            raise AlreadyRequested(
                retry_at=request.created_at + self._policy.code_ttl,
                sent_at=request.created_at,
                phone=mask_phone(request.phone),
            )
        if requester.key not in request.participants:
            if not has_room(request, self._policy.max_joined):
                await self._audit(uow, requester, "request.join_refused", request.pass_no, now)
                raise CodeCrowded()
            joined = after_joining(request, requester)
            await uow.requests.update(request.id, participants=joined)
            await self._audit(uow, requester, "request.joined", request.pass_no, now)
        return CodeSent(request.id, request.pass_no, request.phone, request.expires_at, joined=True)

    async def _check_code_budget(
        self,
        uow: UnitOfWork,
        record: PassRecord,
        phone: Phone,
        now: datetime,
    ) -> None:
        """A re-issue is refused once the combination had :attr:`Policy.max_codes_per_ttl`
        codes within ``code_ttl``: no phone is flooded with SMS, by a mistake or a
        compromised operator account."""
        ttl, limit = self._policy.code_ttl, self._policy.max_codes_per_ttl
        sent = await uow.requests.sent_since(record.pass_no, record.id_no, phone, now - ttl)
        if len(sent) >= limit:
            # The oldest code that still counts leaves the window first.
            raise TooManyCodes(retry_at=sent[-limit] + ttl)

    async def _supersede(
        self, uow: UnitOfWork, earlier: VerificationRequest, requester: Requester, now: datetime
    ) -> bool:
        """Close ``earlier`` for an operator's re-issue if it is still live (read again,
        locked, so a code being checked at this moment is verified or not first).
        Whether it was."""
        current = await uow.requests.get(earlier.id)
        if current is None or not current.is_open(now):
            return False
        await uow.requests.update(current.id, state=RequestState.SUPERSEDED, finished_at=now)
        await self._audit(uow, requester, "request.superseded", current.pass_no, now)
        return True

    async def _sms_language(
        self, uow: UnitOfWork, phone: Phone, requester: Requester, origin: Origin, now: datetime
    ) -> str:
        """The holder's own request: the language they asked in, remembered for the phone.
        An operator's send, a campaign or a reminder: the language the phone last used,
        never the operator's (an operator reading Chinese may text a Vietnamese holder)."""
        if origin is Origin.HOLDER:
            await uow.phone_languages.remember(phone, requester.language, now)
            return requester.language
        return await uow.phone_languages.get(phone) or self._policy.default_language

    async def _check_textable(self, uow: UnitOfWork, phone: Phone) -> None:
        """No code for a phone that opted out of SMS: it would never arrive (the provider
        refuses it), and the holder would wait for it and be locked out by R2."""
        if await uow.opt_outs.is_opted_out(phone):
            raise PhoneOptedOut(form_url=self._policy.form_url)

    async def _check_cool_down(self, uow: UnitOfWork, requester: Requester, now: datetime) -> None:
        limit = self._policy.lookup_failures_per_hour
        failures = await uow.failures.since(requester.failure_key, now - timedelta(hours=1))
        if len(failures) >= limit:
            # The oldest failure that still counts leaves the window first.
            raise TooManyFailures(retry_at=failures[-limit] + timedelta(hours=1))

    # --- checking a code or a link ------------------------------------------------------

    async def check_code(
        self,
        requester: Requester,
        phone: Phone,
        code: str,
        request_id: str | None = None,
        *,
        uow: UnitOfWork | None = None,
        now: datetime | None = None,
    ) -> Verified:
        """A typed or replied code. With several open requests for one phone (one person,
        several passes) the code itself picks the request; a wrong code counts against
        this participant on every open one, so spreading guesses over passes gains
        nothing.

        Only requests this participant may type are looked at (:func:`may_enter_code`),
        and wrong codes lock out only the participant who typed them
        (:mod:`core.verification.participants`): a stranger's guesses never spend the
        holder's code, its link, or the holder's own tries."""
        now = now or self._clock.now()
        limit = self._policy.max_code_attempts
        async with self._work(uow) as work:
            recent = await work.uow.requests.for_phone(phone, now - _LOOKBACK)
            if request_id is not None:
                recent = [r for r in recent if r.id == request_id]
            mine = [r for r in recent if may_enter_code(r, requester)]
            open_ = [r for r in mine if r.is_open(now)]
            usable = [r for r in open_ if not is_locked_out(r, requester, limit)]
            for request in usable:
                if self._hasher.code_matches(request.id, code, request.code_hash):
                    refused = await self._refusal_at_use(work.uow, request, requester, now)
                    if refused is not None:
                        await work.commit()
                        raise refused
                    verified = await self._verify(work.uow, request, requester, now)
                    await work.commit()
                    return verified
            if not open_:
                others = [r for r in recent if r.is_open(now) and r not in mine]
                if others:
                    raise AlreadyRequestedElsewhere(
                        retry_at=others[0].created_at + self._policy.code_ttl,
                        sent_at=others[0].created_at,
                        phone=mask_phone(phone),
                        form_url=self._policy.form_url,
                    )
                raise self._why_closed(mine, code, now)
            if not usable:
                raise CodeLockedHere()
            replaced = [r for r in mine if r.state is RequestState.SUPERSEDED]
            if self._matching(replaced, code) is not None:
                raise CodeSuperseded()  # the right code of a re-issued request: no guess
            remaining = 0
            for request in usable:
                participants = after_wrong_code(request, requester)
                await work.uow.requests.update(
                    request.id,
                    failed_attempts=request.failed_attempts + 1,
                    participants=participants,
                )
                remaining = max(remaining, limit - participants[requester.key])
            await self._audit(work.uow, requester, "check.wrong_code", usable[0].pass_no, now)
            await work.commit()
        if remaining == 0:
            raise CodeLockedHere()
        raise WrongCode(remaining=remaining)

    def _matching(
        self, requests: list[VerificationRequest], code: str
    ) -> VerificationRequest | None:
        return next(
            (r for r in requests if self._hasher.code_matches(r.id, code, r.code_hash)), None
        )

    def _why_closed(self, recent: list[VerificationRequest], code: str, now: datetime) -> Exception:
        matching = self._matching(recent, code)
        if matching is not None:
            return self._closed_error(matching, now)
        return self._closed_error(recent[0], now) if recent else NoOpenRequest()

    def _closed_error(self, request: VerificationRequest, now: datetime) -> Exception:
        if request.state is RequestState.VERIFIED:
            return AlreadyVerified()
        if request.state is RequestState.SPENT:
            return RequestSpent(retry_at=request.created_at + self._policy.code_ttl)
        if request.state is RequestState.STALE:
            return RequestStale()
        if request.state is RequestState.SUPERSEDED:
            return CodeSuperseded()
        if request.state is RequestState.LIVE and now >= request.expires_at:
            return CodeExpired()
        return NoOpenRequest()

    async def describe_link(self, token: str) -> LinkDetails:
        """For the link page's GET, which must never verify (link scanners open links)."""
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.requests.by_token_hash(self._hasher.token_hash(token))
            record = await uow.passes.get(request.pass_no) if request is not None else None
        if request is None or request.state is RequestState.RELEASED:
            raise UnknownLink()
        if not request.is_open(now):
            raise self._closed_error(request, now)
        if record is None or not still_matches(request, record):
            raise RequestStale()  # said, not recorded: a GET never writes
        if not record.is_valid_on(_day(now)):
            raise PassNotValid(valid_from=record.valid_from, valid_to=record.valid_to)
        return LinkDetails(request.pass_no, request.phone, request.expires_at)

    async def confirm_link(
        self, requester: Requester, token: str, *, uow: UnitOfWork | None = None
    ) -> Verified:
        """R3: confirming the link's page has the same effect as the right code."""
        now = self._clock.now()
        async with self._work(uow) as work:
            request = await work.uow.requests.by_token_hash(self._hasher.token_hash(token))
            if request is None or request.state is RequestState.RELEASED:
                raise UnknownLink()
            if not request.is_open(now):
                raise self._closed_error(request, now)
            refused = await self._refusal_at_use(work.uow, request, requester, now)
            if refused is not None:
                await work.commit()
                raise refused
            verified = await self._verify(work.uow, request, requester, now)
            await work.commit()
            return verified

    async def _refusal_at_use(
        self, uow: UnitOfWork, request: VerificationRequest, requester: Requester, now: datetime
    ) -> PortPassError | None:
        """R1 and the pass's validity once more, at the moment of verifying: a registry
        import may have changed either since the code was sent. The error to raise once
        committed, or ``None``. A request the registry changed under is closed; one for a
        pass out of its validity dates is only refused (an import may extend them)."""
        record = await uow.passes.get(request.pass_no, lock=True)
        if record is None or not still_matches(request, record):
            await self._close_stale(uow, request, requester, now)
            return RequestStale()
        if not record.is_valid_on(_day(now)):
            await self._audit(uow, requester, "check.pass_not_valid", request.pass_no, now)
            return PassNotValid(valid_from=record.valid_from, valid_to=record.valid_to)
        return None

    async def _close_stale(
        self, uow: UnitOfWork, request: VerificationRequest, requester: Requester, now: datetime
    ) -> None:
        await uow.requests.update(request.id, state=RequestState.STALE, finished_at=now)
        await self._audit(uow, requester, "request.stale", request.pass_no, now)

    async def _verify(
        self, uow: UnitOfWork, request: VerificationRequest, requester: Requester, now: datetime
    ) -> Verified:
        await uow.passes.set_verified_phone(request.pass_no, request.phone, now)
        if request.update_person_phone:
            await uow.passes.set_person_phone(request.id_no, request.phone, now)
        await uow.requests.update(request.id, state=RequestState.VERIFIED, finished_at=now)
        await self._audit(
            uow, requester, "verified", request.pass_no, now, phone=mask_phone(request.phone)
        )
        return Verified(request.pass_no, request.phone, request.update_person_phone)

    async def _audit(
        self,
        uow: UnitOfWork,
        requester: Requester,
        action: str,
        pass_no: PassNumber,
        now: datetime,
        **detail: str,
    ) -> None:
        await uow.audit.add(
            AuditEntry(
                at=now,
                actor=requester.actor,
                channel=requester.channel,
                action=action,
                subject=mask_pass(pass_no),
                detail=detail,
            )
        )


def _day(now: datetime) -> date:
    """The day in Taiwan, which a pass's validity dates are in."""
    return now.astimezone(TAIPEI).date()


def still_matches(request: VerificationRequest, record: PassRecord | None) -> bool:
    """Whether the registry still says what it said when the code was sent
    (docs/design.md#r1-a-code-only-for-a-matching-pass-id-and-phone): the pass exists,
    belongs to the same ID number, and the person's phone on file is the one it was then.
    For a holder's request that phone is the one the code went to (R1); for an operator's
    new number (R5) it is the old number, which the new one may replace only if nobody
    changed it meanwhile. A request stored before the phone on file was kept (``None``)
    cannot show that it matches."""
    return (
        record is not None
        and record.id_no == request.id_no
        and record.phone is not None
        and record.phone == request.phone_on_file
    )


def cli_requester(actor: str = "cli") -> Requester:
    """The admin CLI acts as itself; it has no failed-lookup limit to speak of."""
    return Requester(key=f"cli:{actor}", channel=Channel.CLI, actor=actor)
