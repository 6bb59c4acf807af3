"""A retried webhook or re-sent update is recognised and answered the first way."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from core.conversation.state import Conversation, Step
from storage.conversation.inbound import InboundLog, Seen
from storage.uow import SqlUnitOfWorkFactory

AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_first_claim_acts_and_a_retry_gets_the_stored_reply(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    assert await log.claim("sms", "SM1", AT) is None
    assert await log.claim("sms", "SM1", AT) == Seen(None)  # still being handled
    await log.remember("sms", "SM1", "驗證碼已經成功送出!!")
    assert await log.claim("sms", "SM1", AT) == Seen("驗證碼已經成功送出!!")
    assert await log.claim("telegram", "SM1", AT) is None  # ids are per channel


async def test_a_claim_in_a_rolled_back_turn_is_not_kept(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.inbound.claim("sms", "SM3", AT)
        # the turn fails here: no commit
    async with uow_factory() as uow:
        assert await uow.inbound.claim("sms", "SM3", AT)  # the retry acts
        await uow.inbound.remember("sms", "SM3", '[{"text": "ok"}]')
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.inbound.claim("sms", "SM3", AT)
        assert await uow.inbound.reply_for("sms", "SM3") == '[{"text": "ok"}]'


async def test_a_released_claim_lets_the_retry_act(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    assert await log.claim("telegram", "77", AT) is None
    await log.release("telegram", "77")  # its update could not be handled
    assert await log.claim("telegram", "77", AT) is None
    assert await log.claim("telegram", "77", AT) == Seen(None)


async def test_a_turns_claim_reads_the_senders_conversation_once(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The claim and the conversation's state come back together (one statement on
    SQLite): the state as stored, none for a new sender, nothing for a retry."""
    key = "sms:+886960123411"
    waiting = Conversation(step=Step.AWAIT_CODE, pass_no="KHPS113-000043", updated_at=AT)
    async with uow_factory() as uow:
        assert await uow.inbound.claim_turn("sms", "SM5", AT, key) == (True, None)
        await uow.conversations.save(key, waiting)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.inbound.claim_turn("sms", "SM6", AT, key) == (True, waiting)
        assert await uow.inbound.claim_turn("sms", "SM6", AT, key) == (False, None)
        assert await uow.inbound.claim_turn("sms", "SM5", AT, "sms:+886960123499") == (
            False,
            None,
        )
        await uow.commit()
    async with uow_factory() as uow:  # the claims were kept with the turn
        assert not await uow.inbound.claim("sms", "SM6", AT)
