"""An operator's pending ``/send`` question (R4) between asking and answering, kept on
the server behind a random handle.

Why not in the button: callback data is written by the client. When the confirm button
carried ``<operator>:<pass>:<phone>``, an operator could forge it with a guessed phone
for another company's pass, and the answer (code sent, or "the phone on file changed")
told whether the guess was right: the full phone of a pass R10 shows masked, found in
a couple of dozen presses. The button now carries only ``op:s:<handle>``: 128 random
bits that name a question this server asked this operator, stored as a keyed hash, for
:attr:`QuestionPolicy.ttl`, answered once. Nothing in it can be chosen by the presser,
and no phone is in button data (which Telegram clients and logs keep).

A press whose handle is unknown, expired, spent or asked for another operator is a bad
press; more than :attr:`QuestionPolicy.bad_presses_per_hour` of them cool the operator
down (:class:`core.errors.TooManyFailures`), so handles cannot be hunted either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.codes import SecretHasher
from core.errors import TooManyFailures
from core.model import Channel, Operator
from core.operators.audit import AuditActor, operator_actor
from core.ports import Clock, UnitOfWork
from core.values import PassNumber, Phone


@dataclass(frozen=True, slots=True)
class SendQuestion:
    """R4's question as asked: who asked, for which pass, which phone it showed, and
    whether that phone is a new number (R5) or the one on file at the time."""

    operator_id: str
    pass_no: PassNumber
    phone: Phone
    new_number: bool
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class QuestionPolicy:
    #: How long a question can be answered: as long as the code it would send is valid.
    ttl: timedelta = timedelta(hours=24)
    #: Presses of unknown or foreign handles per operator per hour before a cool-down.
    bad_presses_per_hour: int = 10


class QuestionRepository(Protocol):
    async def add(self, handle_hash: str, question: SendQuestion) -> None: ...

    async def take(self, handle_hash: str, operator_id: str) -> SendQuestion | None:
        """Delete and return the question of that handle asked for that operator."""
        ...


class QuestionUnitOfWork(UnitOfWork, Protocol):
    @property
    def questions(self) -> QuestionRepository: ...


class QuestionUnitOfWorkFactory(Protocol):
    def __call__(self) -> QuestionUnitOfWork: ...


class HandleSource(Protocol):
    def handle(self) -> str: ...


class OperatorQuestions:
    def __init__(
        self,
        uow: QuestionUnitOfWorkFactory,
        clock: Clock,
        hasher: SecretHasher,
        handles: HandleSource,
        policy: QuestionPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._handles = handles
        self._policy = policy or QuestionPolicy()

    async def ask(
        self, operator: Operator, pass_no: PassNumber, phone: Phone, *, new_number: bool
    ) -> str:
        """Keep the question; return the handle for its confirm button."""
        handle = self._handles.handle()
        question = SendQuestion(operator.id, pass_no, phone, new_number, self._clock.now())
        async with self._uow() as uow:
            await uow.questions.add(self._hasher.question_hash(handle), question)
            await uow.commit()
        return handle

    async def take(
        self, operator: Operator, handle: str, *, channel: Channel = Channel.TELEGRAM
    ) -> SendQuestion | None:
        """The question behind a pressed confirm button, spent; ``None`` (a bad press,
        counted and audited) when it is not one this operator may answer now."""
        now = self._clock.now()
        key = f"op-press:{operator.id}"
        async with self._uow() as uow:
            limit = self._policy.bad_presses_per_hour
            bad = await uow.failures.since(key, now - timedelta(hours=1))
            if len(bad) >= limit:
                raise TooManyFailures(retry_at=bad[-limit] + timedelta(hours=1))
            question = await uow.questions.take(self._hasher.question_hash(handle), operator.id)
            if question is not None and now < question.asked_at + self._policy.ttl:
                await uow.commit()
                return question
            await uow.failures.record(key, now)
            actor = AuditActor(operator_actor(operator.id), channel, now)
            await actor.audit(uow, "operator.bad_press", "send_question")
            await uow.commit()
        return None
