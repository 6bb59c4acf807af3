"""Telegram's per-chat order across processes (storage.turn_order): on PostgreSQL a
second process's turn of the same chat waits until the first's replies are out; other
chats do not wait; a process that dies mid-turn leaves no lock behind."""

from __future__ import annotations

import asyncio

import pytest

from storage.turn_order import TurnOrder, lock_key
from tests.conftest import Backend


@pytest.mark.postgres
async def test_one_turn_of_a_chat_at_a_time_across_engines(backend: Backend) -> None:
    if backend.name != "postgres":
        pytest.skip("SQLite is served by one process: its in-process lock is enough")
    first, second = TurnOrder(backend.engine()), TurnOrder(backend.engine())
    try:
        events: list[str] = []
        release = asyncio.Event()

        async def turn(order: TurnOrder, chat: int, name: str) -> None:
            async with order.hold(chat):
                events.append(f"{name} in")
                if name == "A":
                    await release.wait()
                events.append(f"{name} out")

        a = asyncio.create_task(turn(first, 4242, "A"))
        await asyncio.sleep(0.2)  # A holds chat 4242
        b = asyncio.create_task(turn(second, 4242, "B"))
        await turn(second, 4343, "C")  # another chat: no wait
        await asyncio.sleep(0.2)
        assert events == ["A in", "C in", "C out"]  # B waits for A
        release.set()
        await asyncio.gather(a, b)
        assert events[3:] == ["A out", "B in", "B out"]
    finally:
        await first.close()
        await second.close()


def test_chat_ids_fold_into_int4() -> None:
    for chat in (0, 1, -1, 2**31, -(2**40), 7_123_456_789, -1001234567890):
        assert -(2**31) <= lock_key(chat) < 2**31
