"""Operators' pending ``/send`` questions: :class:`core.operators.questions.QuestionRepository`
in SQL.

Taking a question is one ``DELETE ... RETURNING`` keyed on the handle's hash and the
operator: two presses of the same button (a double tap, two processes) spend it once,
and a handle asked for another operator is not found, let alone spent.
"""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from core.operators.questions import SendQuestion
from core.values import PassNumber, Phone
from storage.tables import send_questions

_t = send_questions


class SqlQuestionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, handle_hash: str, question: SendQuestion) -> None:
        await self._conn.execute(
            insert(_t).values(
                handle_hash=handle_hash,
                operator_id=question.operator_id,
                pass_no=question.pass_no.value,
                phone=question.phone.e164,
                new_number=question.new_number,
                asked_at=question.asked_at,
            )
        )

    async def take(self, handle_hash: str, operator_id: str) -> SendQuestion | None:
        statement = (
            delete(_t)
            .where(_t.c.handle_hash == handle_hash, _t.c.operator_id == operator_id)
            .returning(_t.c.pass_no, _t.c.phone, _t.c.new_number, _t.c.asked_at)
        )
        row = (await self._conn.execute(statement)).first()
        if row is None:
            return None
        return SendQuestion(
            operator_id=operator_id,
            pass_no=PassNumber(row.pass_no),
            phone=Phone(row.phone),
            new_number=bool(row.new_number),
            asked_at=row.asked_at,
        )
