"""Outbox, audit log and failed-lookup log contracts."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import AuditEntry, Channel, OutgoingSms
from storage.tables import audit_log, outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, T0

MINUTE = timedelta(minutes=1)


async def test_outbox_add_queues_a_pending_row(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    first = OutgoingSms(to=PHONE_A, body="驗證碼 123456", request_id="r1")
    second = OutgoingSms(to=PHONE_B, body="notice", kind="suspension")
    async with uow_factory() as uow:
        await uow.outbox.add(second, T0 + MINUTE)
        await uow.outbox.add(first, T0)
        await uow.commit()
    async with uow_factory() as uow:
        queued = await uow.outbox.pending(limit=10)
        only_one = await uow.outbox.pending(limit=1)
    assert [q.sms for q in queued] == [first, second]  # oldest due first
    assert [q.sms for q in only_one] == [first]
    assert queued[0].state == "pending" and queued[0].attempts == 0
    assert queued[0].created_at == queued[0].next_attempt_at == T0
    async with engine.connect() as conn:
        row = (await conn.execute(select(outbox).where(outbox.c.id == queued[0].id))).one()
    assert row.lease_until is None and row.provider_sid is None and row.updated_at == T0


async def test_audit_add_stores_detail_as_json(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    entry = AuditEntry(
        at=T0,
        actor="telegram:12345",
        channel=Channel.TELEGRAM,
        action="code_sent",
        subject="KHPS113-000043",
        detail={"phone": "0912-***-678", "名": "王*明"},
    )
    async with uow_factory() as uow:
        await uow.audit.add(entry)
        await uow.commit()
    async with engine.connect() as conn:
        row = (await conn.execute(select(audit_log))).one()
    assert (row.at, row.actor, row.channel, row.action, row.subject) == (
        T0,
        "telegram:12345",
        "telegram",
        "code_sent",
        "KHPS113-000043",
    )
    assert json.loads(row.detail) == entry.detail


async def test_failures_since_is_inclusive_and_oldest_first(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    key = "sms:+886912345678"
    async with uow_factory() as uow:
        for offset in (3, 0, 1, 2):
            await uow.failures.record(key, T0 + offset * MINUTE)
        await uow.failures.record("telegram:1", T0 + MINUTE)
        await uow.commit()
    async with uow_factory() as uow:
        times = await uow.failures.since(key, T0 + MINUTE)
        nothing = await uow.failures.since("telegram:2", T0)
    assert times == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]
    assert nothing == []
