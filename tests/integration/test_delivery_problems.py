"""In storage, on SQLite and PostgreSQL: a verification SMS
reported undelivered or failed frees the R2 lock, operators see the last delivery
problem of each pass, and the chat that asked is listed to be told, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.codes import SecretHasher, SystemSecrets
from core.errors import AlreadyRequested
from core.model import Channel, Requester, RequestState
from core.values import IdNumber, PassNumber, Phone
from core.verification.delivery import DeliveryProblem, DeliveryState
from core.verification.service import CodeSent, Policy, VerificationService
from fakes.clock import FakeClock
from storage.outbox.failures import FailureNotices
from storage.outbox.queue import OutboxQueue
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import SEALER
from tests.integration.builders import PHONE_A, PHONE_B, T0, add_pass, add_person

LEASE = timedelta(minutes=1)
CHAT = "telegram:555000111"


@pytest.fixture
async def service(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> VerificationService:
    await add_person(engine, "QQ12345673", phone=PHONE_B)
    await add_pass(engine, "KHPS113-000043", "QQ12345673")
    await add_pass(engine, "KHPS113-000040", "QQ12345673")
    await add_person(engine, "R123456780", phone=PHONE_A)
    await add_pass(engine, "KHPS113-000016", "R123456780")
    return VerificationService(
        uow_factory,
        FakeClock(T0),
        SecretHasher(b"h" * 32),
        SystemSecrets(),
        Policy("https://pp.example.tw"),
    )


async def ask(service: VerificationService, pass_no: str, channel: Channel) -> CodeSent:
    pass_ = PassNumber(pass_no)
    id_no, phone = (
        ("R123456780", PHONE_A) if pass_no == "KHPS113-000016" else ("QQ12345673", PHONE_B)
    )
    key = CHAT if channel is Channel.TELEGRAM else f"sms:{phone.e164}"
    requester = Requester(key=key, channel=channel, actor="test")
    return await service.request_as_holder(requester, pass_, IdNumber(id_no), Phone(phone.e164))


async def send_all(engine: AsyncEngine, *sids: str) -> None:
    """The worker's part: claim the queued rows in order and mark them accepted."""
    queue = OutboxQueue(engine, SEALER)
    claims = await queue.claim("w1", T0, LEASE, limit=10)
    for claim, sid in zip(claims, sids, strict=True):
        assert await queue.mark_sent(claim, sid, "queued", T0)


async def request_state(uow_factory: SqlUnitOfWorkFactory, request_id: str) -> RequestState:
    async with uow_factory() as uow:
        request = await uow.requests.get(request_id)
    assert request is not None
    return request.state


@pytest.mark.parametrize("status", ["undelivered", "failed"])
async def test_a_verification_sms_reported_undelivered_frees_the_r2_lock(
    engine: AsyncEngine,
    uow_factory: SqlUnitOfWorkFactory,
    service: VerificationService,
    status: str,
) -> None:
    first = await ask(service, "KHPS113-000043", Channel.SMS)
    sid = "SM" + "1" * 32
    await send_all(engine, sid)
    with pytest.raises(AlreadyRequested):  # the lock holds while the SMS may arrive
        await ask(service, "KHPS113-000043", Channel.SMS)

    assert await OutboxQueue(engine).record_status(sid, status, "30003", T0 + LEASE)

    assert await request_state(uow_factory, first.request_id) is RequestState.RELEASED
    again = await ask(service, "KHPS113-000043", Channel.SMS)  # at once
    assert await request_state(uow_factory, again.request_id) is RequestState.LIVE


async def test_a_delivered_sms_keeps_the_r2_lock(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, service: VerificationService
) -> None:
    first = await ask(service, "KHPS113-000043", Channel.SMS)
    await send_all(engine, "SM" + "2" * 32)

    assert await OutboxQueue(engine).record_status("SM" + "2" * 32, "delivered", None, T0)

    assert await request_state(uow_factory, first.request_id) is RequestState.LIVE
    with pytest.raises(AlreadyRequested):
        await ask(service, "KHPS113-000043", Channel.SMS)


async def test_operators_see_the_last_delivery_problem_of_each_pass(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, service: VerificationService
) -> None:
    await ask(service, "KHPS113-000043", Channel.SMS)  # undelivered, and nothing since
    await ask(service, "KHPS113-000016", Channel.SMS)  # undelivered, then asked again
    await ask(service, "KHPS113-000040", Channel.SMS)  # delivered
    sids = [f"SM{n}" + "a" * 31 for n in range(3)]
    await send_all(engine, *sids)
    queue = OutboxQueue(engine)
    later = T0 + timedelta(minutes=5)
    assert await queue.record_status(sids[0], "undelivered", "30003", later)
    assert await queue.record_status(sids[1], "undelivered", "30005", later)
    assert await queue.record_status(sids[2], "delivered", None, later)
    await ask(service, "KHPS113-000016", Channel.SMS)  # the new one is on its way

    async with uow_factory() as uow:
        everything = await uow.outbox.delivery_problems()
        one = await uow.outbox.delivery_problems([PassNumber("KHPS113-000043")])
        none = await uow.outbox.delivery_problems([PassNumber("KHPS113-000040")])

    problem = DeliveryProblem(DeliveryState.UNDELIVERED, "30003", later)
    assert everything == {PassNumber("KHPS113-000043"): problem}
    assert one == everything and none == {}
    assert problem.describe() == "簡訊未送達 (30003)"
    assert problem.describe("en") == "SMS undelivered (30003)"


async def test_only_a_telegram_request_is_listed_to_be_told_and_only_once(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, service: VerificationService
) -> None:
    """A holder who asked on Telegram is told their SMS did not arrive; one who asked
    by SMS is not (there is no other channel to reach them on)."""
    telegram = await ask(service, "KHPS113-000043", Channel.TELEGRAM)
    await ask(service, "KHPS113-000016", Channel.SMS)
    queue = OutboxQueue(engine, SEALER)
    for claim in await queue.claim("w1", T0, LEASE, limit=10):
        assert await queue.fail(claim, "21614", "'To' number is not a mobile number", T0)
    notices = FailureNotices(engine, lease=LEASE)

    [due] = await notices.due(T0)

    assert (due.notify_to, due.request_id, due.to) == (CHAT, telegram.request_id, PHONE_B)
    assert due.problem == DeliveryProblem(DeliveryState.FAILED, "21614", T0)
    assert await notices.claim(due.id, T0)
    # A second instance neither lists nor claims it while the first is telling ...
    assert await notices.due(T0) == [] and not await notices.claim(due.id, T0)
    # ... but takes it over if the first died before it was told.
    assert [d.id for d in await notices.due(T0 + LEASE)] == [due.id]
    await notices.told(due.id, T0 + LEASE)
    assert await notices.due(T0 + 2 * LEASE) == []
