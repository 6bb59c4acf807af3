"""R2 under concurrency: two requests for the same pass + ID + phone at the same moment
(two taps, two instances) must not both get a code. The chats that lose the race join
the one code sent (core.verification.participants): each may type it, none gets an SMS."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from core.codes import SecretHasher, SystemSecrets
from core.errors import AlreadyRequested
from core.model import Channel, Requester
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import CodeSent, Policy, VerificationService
from fakes.clock import FakeClock
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_B, T0, add_pass, add_person


async def test_simultaneous_requests_send_one_code(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await add_person(engine, "QQ12345673", phone=PHONE_B)
    await add_pass(engine, "KHPS113-000043", "QQ12345673")
    service = VerificationService(
        uow_factory,
        FakeClock(),
        SecretHasher(b"r" * 32),
        SystemSecrets(),
        Policy("https://pp.example.tw"),
    )

    async def ask(n: int) -> CodeSent | BaseException:
        requester = Requester(key=f"telegram:{n}", channel=Channel.TELEGRAM, actor=f"t{n}")
        try:
            return await service.request_as_holder(
                requester,
                PassNumber("KHPS113-000043"),
                IdNumber("QQ12345673"),
                Phone(PHONE_B.e164),
            )
        except AlreadyRequested as error:
            return error

    results = await asyncio.gather(*(ask(n) for n in range(4)))
    sent = [r for r in results if isinstance(r, CodeSent) and not r.joined]
    joined = [r for r in results if isinstance(r, CodeSent) and r.joined]
    assert len(sent) == 1, results
    assert len(joined) == 3
    assert {r.request_id for r in joined} == {sent[0].request_id}
    late = await ask(9)  # a chat asking later joins the same code
    assert isinstance(late, CodeSent) and late.request_id == sent[0].request_id
    async with uow_factory() as uow:
        [request] = await uow.requests.for_phone(Phone(PHONE_B.e164), T0)
    assert set(request.participants) | {request.requester_key} == {
        f"telegram:{n}" for n in (0, 1, 2, 3, 9)
    }
