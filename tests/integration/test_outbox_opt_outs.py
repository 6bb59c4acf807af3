"""The outbox never hands an opted-out phone's SMS to a worker, on SQLite and PostgreSQL;
and a provider's opt-out refusal is recorded with the failed row."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import OutgoingSms, RequestState
from core.opt_outs.model import OptOut, OptOutSource
from storage.outbox.queue import OutboxQueue
from storage.tables import audit_log, outbox, verification_requests
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, T0, request

LEASE = timedelta(seconds=60)


async def test_a_claim_skips_rows_to_opted_out_phones_and_releases_their_requests(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        await uow.requests.add(request("req-a", phone=PHONE_A))
        await uow.outbox.add(OutgoingSms(PHONE_A, "code", request_id="req-a"), T0)
        await uow.outbox.add(OutgoingSms(PHONE_B, "notice", kind="notice"), T0)
        await uow.outbox.add(OutgoingSms(PHONE_A, "later", kind="notice"), T0 + LEASE / 2)
        await uow.opt_outs.add(OptOut(PHONE_A, T0, OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    queue = OutboxQueue(engine)

    [claim] = await queue.claim("w1", T0, LEASE, limit=10)

    assert claim.row.sms.to == PHONE_B
    async with engine.connect() as conn:
        found = list(await conn.execute(select(outbox).order_by(outbox.c.id)))
        state = (await conn.execute(select(verification_requests.c.state))).scalar_one()
    assert [(r.state, r.error_message) for r in found] == [
        ("skipped", "opted out"),
        ("sending", None),
        ("pending", None),  # not due yet: skipped when it is, if the phone is still out
    ]
    assert state == RequestState.RELEASED.value
    assert await queue.claim("w1", T0 + LEASE / 2, LEASE, limit=10) == []
    async with engine.connect() as conn:
        states = list((await conn.execute(select(outbox.c.state).order_by(outbox.c.id))).scalars())
    assert states == ["skipped", "sending", "skipped"]


async def test_a_provider_opt_out_refusal_is_recorded_with_the_failed_row(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    async with uow_factory() as uow:
        await uow.outbox.add(OutgoingSms(PHONE_A, "notice", kind="notice"), T0)
        await uow.commit()
    queue = OutboxQueue(engine)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)

    assert await queue.fail(claim, "21610", "unsubscribed", T0)

    async with uow_factory() as uow:
        assert await uow.opt_outs.get(PHONE_A) == OptOut(
            PHONE_A, T0, OptOutSource.PROVIDER, "21610"
        )
    async with engine.connect() as conn:
        [entry] = list(await conn.execute(select(audit_log)))
    assert (entry.action, entry.actor, entry.subject) == ("sms.opt_out", "provider", "0912-***-678")
    assert json.loads(entry.detail) == {"source": "provider", "reason": "21610"}
