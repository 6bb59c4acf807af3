"""R2 under concurrency: two requests for the same pass + ID + phone at the same moment
(two taps, two instances) must not both get a code."""

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
from tests.integration.builders import PHONE_B, add_pass, add_person


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
    sent = [r for r in results if isinstance(r, CodeSent)]
    refused = [r for r in results if isinstance(r, AlreadyRequested)]
    assert len(sent) == 1, results
    assert len(refused) == 3
    assert isinstance(await ask(9), AlreadyRequested)
