"""No SMS goes to a phone that opted out: the outbox worker inside the app, the real
``twilio`` client against FakeTwilio over real HTTP, a real SQLite file.

Twilio refuses a message to an opted-out phone with error 21610; the worker must never
try (a row queued before the opt-out is skipped), and a 21610 it meets anyway (a STOP
sent while our webhook was down) is recorded as an opt-out of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from bot.config import Config
from bot.providers.twilio_sender import TwilioSender
from bot.services import Services
from bot.sms.outbox_worker import OutboxTuning
from core.codes import SecretHasher, SystemSecrets
from core.errors import PhoneOptedOut
from core.model import Channel, OutgoingSms, Requester, RequestState
from core.opt_outs.model import OptOut, OptOutSource
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import CodeSent, Policy, VerificationService
from fakes.clock import FakeClock
from fakes.twilio_api import FakeTwilio, Fault
from storage.db import create_engine
from storage.outbox.sealing import BodySealer
from storage.tables import audit_log, outbox, sms_opt_outs, verification_requests
from storage.uow import SqlUnitOfWorkFactory
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, AppClient, services_of

FROM = "+15005550006"
PASS_NO, ID_NO = "KHPS113-000040", "QQ12345671"
OPTED_OUT, OTHER = "+886960123411", "+886912345618"
STATUS_URL = f"{PUBLIC_BASE_URL}/sms/status"
TUNING = OutboxTuning(poll_interval=0.02, lease=3600.0, stop_grace=0.5)

MakeClient = Callable[..., Awaitable[AppClient]]


async def start(make_client: MakeClient, config: Config) -> Services:
    return services_of(await start_client(make_client, config))


async def start_client(make_client: MakeClient, config: Config) -> AppClient:
    sender = TwilioSender(
        config.twilio.account_sid,
        TWILIO_TOKEN,
        from_number=FROM,
        status_callback_url=f"{PUBLIC_BASE_URL}/sms/status",
        api_base_url=config.twilio.api_base_url,
        timeout=2.0,
    )
    return await make_client(config, outbox=TUNING, sender=sender)


def holder_of(phone: str) -> Requester:
    return Requester(key=f"sms:{phone}", channel=Channel.SMS, actor="sms:0960-***-411")


async def request_code(verification: VerificationService) -> CodeSent:
    return await verification.request_as_holder(
        holder_of(OPTED_OUT),
        PassNumber.parse(PASS_NO),
        IdNumber.parse(ID_NO),
        Phone.parse(OPTED_OUT),
    )


async def rows(services: Services) -> list[Any]:
    async with services.engine.connect() as conn:
        return list(await conn.execute(select(outbox).order_by(outbox.c.id)))


async def settled(services: Services) -> list[Any]:
    """The outbox once no row is waiting or being sent any more."""
    found: list[Any] = []
    async with asyncio.timeout(5.0):
        while not found or any(row.state in ("pending", "sending") for row in found):
            await asyncio.sleep(0.01)
            found = await rows(services)
    return found


async def select_all(services: Services, table: Any) -> list[Any]:
    async with services.engine.connect() as conn:
        return list(await conn.execute(select(table)))


async def test_sms_queued_before_an_opt_out_are_skipped_and_free_the_r2_lock(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """Queued while the phone could still be texted, sent after it said STOP: the
    worker must not hand them to Twilio, and the holder's code request is released."""
    first = await make_client(twilio_config)  # builds the database and the demo registry
    await first.close()
    engine = create_engine(twilio_config.database.url)
    try:
        uow = SqlUnitOfWorkFactory(engine, sealer=BodySealer(b"k" * 32))  # codes are sealed
        verification = VerificationService(
            uow, clock, SecretHasher(b"k" * 32), SystemSecrets(), Policy(PUBLIC_BASE_URL)
        )
        sent = await request_code(verification)
        async with uow() as work:
            for to in (OPTED_OUT, OTHER):
                await work.outbox.add(
                    OutgoingSms(Phone(to), f"notice to {to}", kind="notice"), clock.now()
                )
            await work.opt_outs.add(
                OptOut(Phone(OPTED_OUT), clock.now(), OptOutSource.KEYWORD, "STOP")
            )
            await work.commit()
    finally:
        await engine.dispose()

    services = await start(make_client, twilio_config)
    found = await settled(services)

    assert [(r.to_phone, r.state, r.error_message) for r in found] == [
        (OPTED_OUT, "skipped", "opted out"),
        (OPTED_OUT, "skipped", "opted out"),
        (OTHER, "sent", None),
    ]
    assert [m["to"] for m in fake.messages] == [OTHER]  # Twilio never saw the others
    async with services.engine.connect() as conn:
        state = (
            await conn.execute(
                select(verification_requests.c.state).where(
                    verification_requests.c.id == sent.request_id
                )
            )
        ).scalar_one()
    assert state == RequestState.RELEASED.value


async def test_twilio_21610_records_a_provider_opt_out_and_stops_later_sms(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    services = await start(make_client, twilio_config)
    fake.fail_next(Fault.twilio_error(21610))

    await request_code(services.verification)
    [row] = await settled(services)

    assert (row.state, row.error_code) == ("failed", "21610")
    [opt_out] = await select_all(services, sms_opt_outs)
    assert (opt_out.phone, opt_out.source, opt_out.reason) == (OPTED_OUT, "provider", "21610")
    [entry] = [e for e in await select_all(services, audit_log) if e.action == "sms.opt_out"]
    assert (entry.actor, entry.subject) == ("provider", "0960-***-411")
    assert json.loads(entry.detail) == {"source": "provider", "reason": "21610"}
    # The R2 lock is free, but the phone is now known to have opted out: no new code.
    with pytest.raises(PhoneOptedOut):
        await request_code(services.verification)
    async with services.uow() as uow:
        await uow.outbox.add(
            OutgoingSms(Phone(OPTED_OUT), "notice", kind="notice"), services.clock.now()
        )
        await uow.commit()
    _, notice = await settled(services)
    assert (notice.state, notice.error_message) == ("skipped", "opted out")
    assert len(fake.requests) == 1  # only the refused first try ever reached Twilio


async def test_a_21610_status_callback_records_a_provider_opt_out(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    """A messaging service may accept the message and report 21610 in its callback."""
    client = await start_client(make_client, twilio_config)
    services = services_of(client)
    async with services.uow() as uow:
        sms = OutgoingSms(Phone(OPTED_OUT), "notice", kind="notice")
        await uow.outbox.add(sms, services.clock.now())
        await uow.commit()
    [row] = await settled(services)
    params = fake.status_params(row.provider_sid, "failed", error_code=21610)
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(STATUS_URL, params)

    answer = await client.post("/sms/status", data=params, headers={SIGNATURE_HEADER: signature})

    assert answer.status == 204
    [opt_out] = await select_all(services, sms_opt_outs)
    assert (opt_out.phone, opt_out.source, opt_out.reason) == (OPTED_OUT, "provider", "21610")


async def test_other_permanent_errors_record_no_opt_out(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    services = await start(make_client, twilio_config)
    fake.fail_next(Fault.twilio_error(21614))  # not a mobile number: not an opt-out

    await request_code(services.verification)
    [row] = await settled(services)

    assert (row.state, row.error_code) == ("failed", "21614")
    assert await select_all(services, sms_opt_outs) == []
