"""RequestRepository contract: round trips, the R2 lock lookup, and /stats counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Channel, Origin, RequestState
from core.values import IdNumber, PassNumber
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, T0, add_pass, add_person, request

HOUR = timedelta(hours=1)
PASS = PassNumber("KHPS113-000043")
ID = IdNumber("QQ12345673")


async def test_add_and_get_round_trip(uow_factory: SqlUnitOfWorkFactory) -> None:
    full = request(
        "req-op",
        origin=Origin.OPERATOR,
        channel=Channel.SMS,
        state=RequestState.VERIFIED,
        failed_attempts=2,
        update_person_phone=True,
        operator_id="op-7",
        finished_at=T0 + HOUR,
        requester_key="operator:op-7",
        phone_on_file=PHONE_B,
        participants={"telegram:12345": 2, "telegram:678": 0},
    )
    plain = request("req-holder")
    async with uow_factory() as uow:
        await uow.requests.add(full)
        await uow.requests.add(plain)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.requests.get("req-op") == full
        assert await uow.requests.get("req-holder") == plain
        assert await uow.requests.get("nope") is None


async def test_by_token_hash(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        found = await uow.requests.by_token_hash("token-r1")
        missing = await uow.requests.by_token_hash("token-none")
    assert found is not None and found.id == "r1"
    assert missing is None


async def test_token_hash_is_unique(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        with pytest.raises(IntegrityError):
            await uow.requests.add(request("r2", token_hash="token-r1"))


async def test_latest_for_is_the_newest_lock_holder(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("old", created_at=T0 - 30 * HOUR))
        await uow.requests.add(request("spent", created_at=T0, state=RequestState.SPENT))
        await uow.requests.add(
            request("released", created_at=T0 + HOUR, state=RequestState.RELEASED)
        )
        await uow.requests.add(request("stale", created_at=T0 + HOUR / 2, state=RequestState.STALE))
        await uow.requests.add(request("other-phone", created_at=T0 + 2 * HOUR, phone=PHONE_B))
        await uow.requests.add(
            request("replaced", created_at=T0 + HOUR / 4, state=RequestState.SUPERSEDED)
        )
        latest = await uow.requests.latest_for(PASS, ID, PHONE_A, T0 - 24 * HOUR)
        just_before = await uow.requests.latest_for(PASS, ID, PHONE_A, T0 - HOUR / 60)
        at_since = await uow.requests.latest_for(PASS, ID, PHONE_A, T0)
        none = await uow.requests.latest_for(PASS, ID, PHONE_A, T0 + HOUR)
        other_id = await uow.requests.latest_for(PASS, IdNumber("A123456789"), PHONE_A, T0)
    # released, stale and superseded requests hold no lock
    assert latest is not None and latest.id == "spent"
    assert just_before is not None and just_before.id == "spent"
    assert at_since is None  # since is exclusive: made exactly 24 h ago has expired
    assert none is None
    assert other_id is None


async def test_sent_since_counts_every_code_that_left(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("old", created_at=T0 - 30 * HOUR))
        await uow.requests.add(request("a", created_at=T0, state=RequestState.SUPERSEDED))
        await uow.requests.add(request("b", created_at=T0 + HOUR, state=RequestState.RELEASED))
        await uow.requests.add(request("c", created_at=T0 + 2 * HOUR, state=RequestState.VERIFIED))
        await uow.requests.add(request("d", created_at=T0 + 3 * HOUR, phone=PHONE_B))
        sent = await uow.requests.sent_since(PASS, ID, PHONE_A, T0 - 24 * HOUR)
        at_since = await uow.requests.sent_since(PASS, ID, PHONE_A, T0)
    assert sent == [T0, T0 + 2 * HOUR]  # oldest first; a released SMS never left
    assert at_since == [T0 + 2 * HOUR]


async def test_wrong_codes_per_participant_are_kept(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.requests.update("r1", participants={"telegram:1": 1, "sms:+886960123411": 0})
        await uow.requests.update("r1", failed_attempts=1)  # leaves them as they are
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.requests.get("r1")
        [listed] = await uow.requests.for_phone(PHONE_A, T0)
    assert found is not None
    assert found.participants == {"telegram:1": 1, "sms:+886960123411": 0}
    assert listed.participants == found.participants


async def test_for_phone_newest_first(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("a", created_at=T0))
        await uow.requests.add(request("b", created_at=T0 + HOUR, state=RequestState.RELEASED))
        await uow.requests.add(request("c", created_at=T0 - 2 * HOUR))
        await uow.requests.add(request("d", created_at=T0 + HOUR, phone=PHONE_B))
        found = await uow.requests.for_phone(PHONE_A, T0 - HOUR)
    assert [r.id for r in found] == ["b", "a"]


async def test_update_changes_only_given_fields(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.requests.update("r1", failed_attempts=1)
        after_attempt = await uow.requests.get("r1")
        await uow.requests.update("r1", state=RequestState.VERIFIED, finished_at=T0 + HOUR)
        after_finish = await uow.requests.get("r1")
        await uow.requests.update("r1")  # nothing to change
        await uow.requests.update("missing", state=RequestState.SPENT)
    assert after_attempt is not None and after_finish is not None
    assert (after_attempt.failed_attempts, after_attempt.state) == (1, RequestState.LIVE)
    assert after_attempt.finished_at is None
    assert after_finish.state is RequestState.VERIFIED
    assert after_finish.failed_attempts == 1
    assert after_finish.finished_at == T0 + HOUR


async def test_count_open(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> None:
    await add_person(engine, "QQ12345673")
    await add_pass(engine, "KHPS113-000043", "QQ12345673")
    await add_pass(engine, "TCPS113-000101", "QQ12345673", company="臺中港測試公司")
    async with uow_factory() as uow:
        await uow.requests.add(request("live"))
        await uow.requests.add(request("live-tc", pass_no="TCPS113-000101"))
        await uow.requests.add(request("expired", created_at=T0 - 25 * HOUR))
        await uow.requests.add(request("done", state=RequestState.VERIFIED))
        now = T0 + HOUR
        assert await uow.requests.count_open(now) == 2
        assert await uow.requests.count_open(now, company="高雄港測試業者") == 1
        assert await uow.requests.count_open(now, company="臺中港測試公司") == 1
        assert await uow.requests.count_open(T0 + 24 * HOUR) == 0  # expiry is exclusive
