"""Conversation state survives in storage: what one process saves, another reads."""

from __future__ import annotations

from datetime import UTC, datetime

from core.conversation.state import Conversation, Step
from storage.uow import SqlUnitOfWorkFactory

AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_saved_conversation_reads_back_equal(uow_factory: SqlUnitOfWorkFactory) -> None:
    state = Conversation(
        step=Step.CONFIRM,
        language="en",
        pass_no="KHPS113-000043",
        id_no="QQ12345673",
        phone="+886960123411",
        own_passes=("KHPS113-000040",),
        updated_at=AT,
    )
    async with uow_factory() as uow:
        assert await uow.conversations.get("sms:+886960123411") is None
        await uow.conversations.save("sms:+886960123411", state)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.conversations.get("sms:+886960123411") == state
        assert await uow.conversations.get("telegram:1") is None


async def test_saving_again_replaces_the_state(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.conversations.save("telegram:1", Conversation(step=Step.ASK_ID, updated_at=AT))
        await uow.conversations.save("telegram:1", Conversation(step=Step.IDLE, updated_at=AT))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.conversations.get("telegram:1")
    assert stored is not None and stored.step is Step.IDLE


async def test_uncommitted_state_is_not_kept(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.conversations.save("telegram:2", Conversation(step=Step.ASK_ID, updated_at=AT))
    async with uow_factory() as uow:
        assert await uow.conversations.get("telegram:2") is None
