"""The unit of work commits together or not at all."""

from __future__ import annotations

import asyncio

import pytest

from core.model import OutgoingSms
from core.values import PassNumber
from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, T0, request


class Boom(Exception):
    pass


async def count_requests(uow_factory: SqlUnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return len(await uow.requests.for_phone(PHONE_A, T0))


async def test_leaving_without_commit_rolls_back(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.outbox.add(OutgoingSms(to=PHONE_A, body="x", request_id="r1"), T0)
    assert await count_requests(uow_factory) == 0
    async with uow_factory() as uow:
        assert await uow.outbox.pending() == []


async def test_an_exception_rolls_back_everything(uow_factory: SqlUnitOfWorkFactory) -> None:
    with pytest.raises(Boom):
        async with uow_factory() as uow:
            await uow.requests.add(request("r1"))
            await uow.outbox.add(OutgoingSms(to=PHONE_A, body="x", request_id="r1"), T0)
            raise Boom
    assert await count_requests(uow_factory) == 0


async def test_commit_keeps_both_the_request_and_its_sms(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.outbox.add(OutgoingSms(to=PHONE_A, body="x", request_id="r1"), T0)
        await uow.commit()
    assert await count_requests(uow_factory) == 1
    async with uow_factory() as uow:
        assert [q.sms.request_id for q in await uow.outbox.pending()] == ["r1"]


async def test_work_after_a_commit_needs_its_own_commit(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.commit()
        await uow.requests.add(request("r2"))
    async with uow_factory() as uow:
        assert await uow.requests.get("r1") is not None
        assert await uow.requests.get("r2") is None


async def test_an_unopened_unit_cannot_be_used(uow_factory: SqlUnitOfWorkFactory) -> None:
    uow = uow_factory()
    assert isinstance(uow, SqlUnitOfWork)
    with pytest.raises(RuntimeError, match="not open"):
        await uow.commit()
    async with uow:
        assert await uow.passes.get(PassNumber("KHPS113-000001")) is None
    with pytest.raises(RuntimeError, match="not open"):
        await uow.commit()


async def test_concurrent_checks_of_one_request_both_count(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """Two wrong codes at once: the second reader waits for the first writer, so the
    attempt counter is not lost (SQLite: the write lock; PostgreSQL: FOR UPDATE)."""
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.commit()
    first_has_read = asyncio.Event()

    async def wrong_code(wait_for: asyncio.Event | None) -> None:
        if wait_for is not None:
            await wait_for.wait()
        async with uow_factory() as uow:
            current = await uow.requests.get("r1")
            assert current is not None
            if wait_for is None:
                first_has_read.set()
                await asyncio.sleep(0.2)  # the other check starts meanwhile
            await uow.requests.update("r1", failed_attempts=current.failed_attempts + 1)
            await uow.commit()

    await asyncio.wait_for(asyncio.gather(wrong_code(None), wrong_code(first_has_read)), 10)
    async with uow_factory() as uow:
        final = await uow.requests.get("r1")
    assert final is not None and final.failed_attempts == 2
