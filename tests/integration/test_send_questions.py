"""Operators' pending /send questions on SQLite and PostgreSQL: a handle is answered
once, only by the operator it was asked for, for a day; bad presses cool down
(:mod:`core.operators.questions`, docs/security.md "Operator buttons")."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from core.codes import SecretHasher, SystemSecrets
from core.errors import TooManyFailures
from core.model import Operator
from core.operators.questions import OperatorQuestions, QuestionPolicy
from core.values import PassNumber
from fakes.clock import FakeClock
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, T0

KH = "高雄港測試業者"
ASKER, OTHER = Operator("ab12cd34", "王小明", KH), Operator("ef56ab78", "李大同", KH)
PASS = PassNumber("KHPS113-000043")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def questions(uow_factory: SqlUnitOfWorkFactory, clock: FakeClock) -> OperatorQuestions:
    hasher = SecretHasher(b"k" * 32)
    policy = QuestionPolicy(bad_presses_per_hour=3)
    return OperatorQuestions(uow_factory, clock, hasher, SystemSecrets(), policy)


async def test_a_question_is_answered_once_even_by_two_presses_at_once(
    questions: OperatorQuestions,
) -> None:
    handle = await questions.ask(ASKER, PASS, PHONE_A, new_number=False)

    taken = await asyncio.gather(*(questions.take(ASKER, handle) for _ in range(2)))

    [question] = [q for q in taken if q is not None]
    assert (question.pass_no, question.phone, question.new_number) == (PASS, PHONE_A, False)
    assert question.asked_at == T0


async def test_another_operator_cannot_answer_or_spend_it(questions: OperatorQuestions) -> None:
    handle = await questions.ask(ASKER, PASS, PHONE_A, new_number=True)

    assert await questions.take(OTHER, handle) is None
    taken = await questions.take(ASKER, handle)
    assert taken is not None and taken.new_number


async def test_a_day_later_it_is_gone(questions: OperatorQuestions, clock: FakeClock) -> None:
    handle = await questions.ask(ASKER, PASS, PHONE_A, new_number=False)
    clock.advance(hours=24)

    assert await questions.take(ASKER, handle) is None


async def test_bad_presses_cool_the_operator_down_for_an_hour(
    questions: OperatorQuestions, clock: FakeClock
) -> None:
    handle = await questions.ask(ASKER, PASS, PHONE_A, new_number=False)
    for guess in ("a" * 22, "b" * 22, "c" * 22):
        assert await questions.take(ASKER, guess) is None

    with pytest.raises(TooManyFailures) as caught:
        await questions.take(ASKER, handle)
    assert caught.value.retry_at == T0 + timedelta(hours=1)
    assert await questions.take(OTHER, "d" * 22) is None  # the others are not cooled down

    clock.advance(hours=1, seconds=1)
    assert await questions.take(ASKER, handle) is not None
