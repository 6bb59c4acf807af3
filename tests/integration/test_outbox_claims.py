"""Claiming outbox rows under a lease, and marking them, on SQLite and PostgreSQL.

The worker's guarantees rest on these: only due rows are claimed; a claim whose lease
expired is taken over, and the stale claimant can no longer write; a failed
verification SMS frees its request's R2 lock in the same transaction; and two
claimers (two instances) never hold or send the same row.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.providers.twilio_sender import TwilioSender
from bot.sms.outbox_worker import OutboxTuning, OutboxWorker
from core.clock import SystemClock
from core.model import OutgoingSms, Priority, RequestState
from fakes.twilio_api import FakeTwilio
from storage.outbox.queue import OutboxQueue
from storage.tables import outbox, verification_requests
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Backend
from tests.integration.builders import PHONE_A, PHONE_B, T0, request

LEASE = timedelta(seconds=60)
SECOND = timedelta(seconds=1)


async def queue_sms(
    uow_factory: SqlUnitOfWorkFactory, *bodies: str, at: Any = T0, request_id: str | None = None
) -> None:
    async with uow_factory() as uow:
        for body in bodies:
            await uow.outbox.add(OutgoingSms(to=PHONE_A, body=body, request_id=request_id), at)
        await uow.commit()


async def row_of(engine: AsyncEngine, row_id: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(outbox).where(outbox.c.id == row_id))).one()


async def request_state(engine: AsyncEngine, request_id: str) -> str:
    query = select(verification_requests.c.state).where(verification_requests.c.id == request_id)
    async with engine.connect() as conn:
        return str((await conn.execute(query)).scalar_one())


# --- claiming ------------------------------------------------------------------------


async def test_claim_takes_only_due_rows_oldest_first(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "later", at=T0 + 5 * SECOND)
    await queue_sms(uow_factory, "first", "second", at=T0)
    queue = OutboxQueue(engine)

    claims = await queue.claim("w1", T0, LEASE, limit=10)

    assert [c.row.sms.body for c in claims] == ["first", "second"]
    assert all(c.row.state == "sending" and c.row.attempts == 0 for c in claims)
    row = await row_of(engine, claims[0].row.id)
    assert (row.state, row.lease_until, row.claimed_by) == ("sending", T0 + LEASE, claims[0].token)
    assert claims[0].token.startswith("w1/")
    # Held rows are not claimed again while their lease runs; the later row comes due.
    assert await queue.claim("w2", T0 + 4 * SECOND, LEASE, limit=10) == []
    [later] = await queue.claim("w2", T0 + 5 * SECOND, LEASE, limit=10)
    assert later.row.sms.body == "later"


async def test_claim_respects_the_limit(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, *[f"sms {n}" for n in range(5)])
    queue = OutboxQueue(engine)
    first = await queue.claim("w1", T0, LEASE, limit=2)
    rest = await queue.claim("w1", T0, LEASE, limit=10)
    assert [c.row.sms.body for c in first] == ["sms 0", "sms 1"]
    assert [c.row.sms.body for c in rest] == ["sms 2", "sms 3", "sms 4"]
    assert await queue.claim("w1", T0, LEASE, limit=0) == []


async def test_a_holders_code_is_claimed_before_a_thousand_queued_campaign_sms(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """A campaign queued 1,000 SMS first; a holder who then asks for a code must not
    wait behind them (priority 0 before 1 before 2, oldest first within one)."""
    async with uow_factory() as uow:
        for n in range(1000):
            sms = OutgoingSms(to=PHONE_B, body=f"campaign {n}", kind="campaign")
            await uow.outbox.add(sms, T0, priority=Priority.CAMPAIGN)
        await uow.outbox.add(OutgoingSms(to=PHONE_B, body="notice"), T0, priority=1)
        await uow.outbox.add(OutgoingSms(to=PHONE_A, body="your code"), T0 + SECOND)
        await uow.commit()
    queue = OutboxQueue(engine)

    first = await queue.claim("w1", T0 + SECOND, LEASE, limit=3)

    assert [c.row.sms.body for c in first] == ["your code", "notice", "campaign 0"]
    assert [c.row.priority for c in first] == [0, 1, 2]
    rest = await queue.claim("w1", T0 + SECOND, LEASE, limit=2)
    assert [c.row.sms.body for c in rest] == ["campaign 1", "campaign 2"]


async def test_a_negative_priority_is_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="priority"):
            await uow.outbox.add(OutgoingSms(to=PHONE_A, body="x"), T0, priority=-1)


async def test_finished_rows_are_never_claimed(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "sent", "failed")
    queue = OutboxQueue(engine)
    sent, failed = await queue.claim("w1", T0, LEASE, limit=10)
    assert await queue.mark_sent(sent, "SM" + "1" * 32, "queued", T0)
    assert await queue.fail(failed, "21211", "invalid 'To' phone number", T0)
    assert await queue.claim("w1", T0 + timedelta(days=1), LEASE, limit=10) == []


async def test_a_sid_already_recorded_for_another_row_is_recorded_as_sent_without_it(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """On both backends: the unique index refuses the sid, yet the
    message was accepted; the row is marked sent (so it is never sent again)."""
    await queue_sms(uow_factory, "first", "second")
    queue = OutboxQueue(engine)
    first, second = await queue.claim("w1", T0, LEASE, limit=10)
    sid = "SM" + "d" * 32
    assert await queue.mark_sent(first, sid, "queued", T0)

    assert await queue.mark_sent(second, sid, "queued", T0 + SECOND)

    row = await row_of(engine, second.row.id)
    assert (row.state, row.provider_sid, row.lease_until) == ("sent", None, None)
    assert row.error_message == f"provider sid SM…dddd already recorded for outbox {first.row.id}"
    assert (await row_of(engine, first.row.id)).provider_sid == sid
    assert await queue.claim("w2", T0 + 2 * LEASE, LEASE, limit=10) == []
    assert await queue.record_status(sid, "delivered", None, T0 + 2 * SECOND)  # the first's


async def test_an_expired_lease_is_claimed_again_after_a_crash(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "code")
    queue = OutboxQueue(engine)
    [crashed] = await queue.claim("dead-worker", T0, LEASE, limit=10)
    # The worker died here. Until the lease expires nobody else may send the row.
    assert await queue.claim("w2", T0 + LEASE - SECOND, LEASE, limit=10) == []

    [taken] = await queue.claim("w2", T0 + LEASE, LEASE, limit=10)

    assert taken.row.id == crashed.row.id
    assert taken.token != crashed.token
    assert taken.row.attempts == 1  # the lost attempt counts
    assert taken.lease_until == T0 + 2 * LEASE


async def test_a_stale_claim_cannot_overwrite_the_new_claimant(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "code", request_id="r1")
    async with uow_factory() as uow:
        await uow.requests.add(request("r1"))
        await uow.commit()
    queue = OutboxQueue(engine)
    [stale] = await queue.claim("slow", T0, LEASE, limit=1)
    [fresh] = await queue.claim("w2", T0 + LEASE, LEASE, limit=1)
    later = T0 + LEASE + SECOND

    assert not await queue.mark_sent(stale, "SM" + "a" * 32, "queued", later)
    assert not await queue.retry_later(stale, later + SECOND, "HTTP 500", later)
    assert not await queue.fail(stale, "21211", "invalid number", later)
    assert not await queue.put_back(stale, later)
    row = await row_of(engine, fresh.row.id)
    assert (row.state, row.claimed_by, row.provider_sid) == ("sending", fresh.token, None)
    assert await request_state(engine, "r1") == "live"  # the stale failure released nothing

    assert await queue.mark_sent(fresh, "SM" + "b" * 32, "queued", later)
    assert not await queue.mark_sent(fresh, "SM" + "c" * 32, "queued", later)  # once only
    row = await row_of(engine, fresh.row.id)
    assert (row.state, row.provider_sid, row.attempts) == ("sent", "SM" + "b" * 32, 2)


# --- marking -------------------------------------------------------------------------


async def test_mark_sent_records_the_provider_sid(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "code")
    queue = OutboxQueue(engine)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)
    assert await queue.mark_sent(claim, "SM" + "1" * 32, "queued", T0 + SECOND)
    row = await row_of(engine, claim.row.id)
    assert (row.state, row.provider_sid, row.provider_status) == ("sent", "SM" + "1" * 32, "queued")
    assert (row.attempts, row.lease_until, row.updated_at) == (1, None, T0 + SECOND)


async def test_retry_later_returns_the_row_due_at_the_given_time(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "code")
    queue = OutboxQueue(engine)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)
    assert await queue.retry_later(claim, T0 + 30 * SECOND, "Twilio answered HTTP 503", T0)

    row = await row_of(engine, claim.row.id)
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + 30 * SECOND)
    assert (row.error_message, row.lease_until, row.claimed_by) == (
        "Twilio answered HTTP 503",
        None,
        claim.token,  # kept: who tried last
    )
    assert await queue.next_due() == T0 + 30 * SECOND
    assert await queue.claim("w1", T0 + 29 * SECOND, LEASE, limit=1) == []
    [again] = await queue.claim("w1", T0 + 30 * SECOND, LEASE, limit=1)
    assert again.row.attempts == 1


async def test_put_back_is_not_an_attempt(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, "code")
    queue = OutboxQueue(engine)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)
    assert await queue.put_back(claim, T0)
    [again] = await queue.claim("w1", T0, LEASE, limit=1)
    assert (again.row.id, again.row.attempts) == (claim.row.id, 0)


async def test_failing_a_verification_sms_releases_its_live_request(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    live, done = request("r-live"), request("r-done", phone=PHONE_B, state=RequestState.VERIFIED)
    async with uow_factory() as uow:
        await uow.requests.add(live)
        await uow.requests.add(done)
        await uow.commit()
    await queue_sms(uow_factory, "code", request_id="r-live")
    await queue_sms(uow_factory, "late", request_id="r-done")
    queue = OutboxQueue(engine)
    first, second = await queue.claim("w1", T0, LEASE, limit=2)

    assert await queue.fail(first, "21610", "recipient has unsubscribed", T0 + SECOND)
    assert await queue.fail(second, None, "gave up after 8 attempts", T0 + SECOND)

    row = await row_of(engine, first.row.id)
    assert (row.state, row.error_code, row.error_message, row.attempts) == (
        "failed",
        "21610",
        "recipient has unsubscribed",
        1,
    )
    assert await request_state(engine, "r-live") == "released"
    assert await request_state(engine, "r-done") == "verified"  # only a live one is freed
    async with uow_factory() as uow:  # R2: the combination may ask again
        assert await uow.requests.latest_for(live.pass_no, live.id_no, PHONE_A, T0 - LEASE) is None


# --- status callbacks ----------------------------------------------------------------


async def sent_row(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, sid: str) -> int:
    await queue_sms(uow_factory, "code")
    queue = OutboxQueue(engine)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)
    assert await queue.mark_sent(claim, sid, "queued", T0)
    return claim.row.id


async def test_status_callbacks_move_forward_only(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    sid = "SM" + "d" * 32
    row_id = await sent_row(engine, uow_factory, sid)
    queue = OutboxQueue(engine)

    assert await queue.record_status(sid, "sent", None, T0 + SECOND)
    assert (await row_of(engine, row_id)).provider_status == "sent"
    assert await queue.record_status(sid, "delivered", None, T0 + 2 * SECOND)
    assert await queue.record_status(sid, "sent", None, T0 + 3 * SECOND)  # late, ignored

    row = await row_of(engine, row_id)
    assert (row.state, row.provider_status, row.updated_at) == (
        "delivered",
        "delivered",
        T0 + 2 * SECOND,
    )


@pytest.mark.parametrize("status", ["undelivered", "failed"])
async def test_a_failed_delivery_records_its_error_code(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, status: str
) -> None:
    sid = "SM" + "e" * 32
    row_id = await sent_row(engine, uow_factory, sid)
    assert await OutboxQueue(engine).record_status(sid, status, "30003", T0 + SECOND)
    row = await row_of(engine, row_id)
    assert (row.state, row.provider_status, row.error_code) == (status, status, "30003")


async def test_an_unknown_sid_is_reported(engine: AsyncEngine) -> None:
    assert not await OutboxQueue(engine).record_status("SM" + "0" * 32, "delivered", None, T0)


# --- two instances -------------------------------------------------------------------


async def test_concurrent_claimers_never_claim_the_same_row(
    backend: Backend, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await queue_sms(uow_factory, *[f"sms {n}" for n in range(200)])
    engines = [backend.engine() for _ in range(4)]  # four instances, four pools

    async def drain(name: str, queue: OutboxQueue) -> list[int]:
        taken: list[int] = []
        while claims := await queue.claim(name, T0, LEASE, limit=7):
            taken += [c.row.id for c in claims]
            await asyncio.sleep(0)
        return taken

    try:
        results = await asyncio.gather(
            *(drain(f"w{n}", OutboxQueue(e)) for n, e in enumerate(engines))
        )
    finally:
        for e in engines:
            await e.dispose()
    claimed = [row_id for taken in results for row_id in taken]
    assert len(claimed) == 200
    assert len(set(claimed)) == 200
    assert sum(1 for taken in results if taken) >= 2  # they really did run side by side


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as server:
        yield server


async def test_two_workers_on_one_outbox_send_each_row_once(
    backend: Backend,
    engine: AsyncEngine,
    uow_factory: SqlUnitOfWorkFactory,
    fake: FakeTwilio,
) -> None:
    """Two instances, each with its own engine, worker and Twilio client, drain one
    outbox of 200 rows through FakeTwilio: every body reaches it exactly once."""
    bodies = [f"message {n:03d}" for n in range(200)]
    async with uow_factory() as uow:  # queued "now": the workers use the real clock
        for body in bodies:
            await uow.outbox.add(OutgoingSms(to=PHONE_A, body=body), SystemClock().now())
        await uow.commit()
    engines = [backend.engine() for _ in range(2)]
    senders = [
        TwilioSender(
            fake.account_sid,
            fake.auth_token,
            from_number="+15005550006",
            api_base_url=fake.url,
            timeout=5.0,
        )
        for _ in engines
    ]
    workers = [
        OutboxWorker(
            OutboxQueue(e),
            s,
            SystemClock(),
            max_per_second=10_000,
            tuning=OutboxTuning(poll_interval=0.05, worker_id=f"instance-{n}"),
        )
        for n, (e, s) in enumerate(zip(engines, senders, strict=True))
    ]
    try:
        for worker in workers:
            await worker.start()
        async with asyncio.timeout(30):
            while len(fake.messages) < len(bodies):  # noqa: ASYNC110 - a fake's record
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)  # time for a duplicate to show up, if there were one
    finally:
        for worker in workers:
            await worker.stop()
        for sender in senders:
            await sender.close()
        for e in engines:
            await e.dispose()

    sends = Counter(m["body"] for m in fake.messages)
    assert sends == Counter(bodies)  # each exactly once
    async with engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.state, outbox.c.claimed_by))).all()
    assert {row.state for row in rows} == {"sent"}
    by_worker = Counter(row.claimed_by.split("/")[0] for row in rows)
    assert set(by_worker) == {"instance-0", "instance-1"}  # both did share the work


# SQLite has one writer at a time: there is no row lock to skip.
@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_claims_skip_rows_locked_by_another_transaction(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """On PostgreSQL a row another transaction holds is skipped, not waited for."""
    await queue_sms(uow_factory, "held", "free")
    queue = OutboxQueue(engine)
    async with engine.connect() as conn, conn.begin():
        held = select(outbox.c.id).where(outbox.c.body == "held").with_for_update()
        held_id = (await conn.execute(held)).scalar_one()
        await conn.execute(update(outbox).where(outbox.c.id == held_id).values(attempts=0))
        async with asyncio.timeout(5):
            claims = await queue.claim("w1", T0, LEASE, limit=10)
        assert [c.row.sms.body for c in claims] == ["free"]
