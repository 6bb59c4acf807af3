"""On both backends: queued codes and link tokens are stored only
sealed, opened only with the secret key and only on their own row, and forgotten once
the provider has accepted the message or it has failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.codes import SecretHasher
from core.model import Channel, OutgoingSms, Requester
from core.opt_outs.model import OptOut, OptOutSource
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import Policy, VerificationService
from core.verification.wording import SmsWording
from fakes.clock import FakeClock
from fakes.secrets import FixedSecrets
from storage.outbox.queue import OutboxQueue, UnreadableSms
from storage.outbox.sealing import BodySealer
from storage.tables import metadata, outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import SEALER
from tests.integration.builders import PHONE_B, T0, add_pass, add_person

CODE, TOKEN = "738291", "Qz7RkVw2JmXa"
LEASE = timedelta(minutes=1)


async def request_code(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> None:
    await add_person(engine, "QQ12345673", phone=PHONE_B)
    await add_pass(engine, "KHPS113-000043", "QQ12345673")
    service = VerificationService(
        uow_factory,
        FakeClock(T0),
        SecretHasher(b"h" * 32),
        FixedSecrets([CODE], [TOKEN]),
        Policy("https://pp.example.tw"),
    )
    await service.request_as_holder(
        Requester(key="sms:+886960123411", channel=Channel.SMS, actor="sms:0960-***-411"),
        PassNumber("KHPS113-000043"),
        IdNumber("QQ12345673"),
        Phone(PHONE_B.e164),
    )


async def where_readable(engine: AsyncEngine) -> list[str]:
    """Every ``table.column`` in which CODE or TOKEN can be read in clear."""
    found = []
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                for column, value in row._mapping.items():
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    if CODE in text or TOKEN in text:
                        found.append(f"{table.name}.{column}")
    return found


async def outbox_row(engine: AsyncEngine) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(outbox))).one()


async def test_a_queued_code_and_link_token_are_stored_only_sealed(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await request_code(engine, uow_factory)

    assert await where_readable(engine) == []
    row = await outbox_row(engine)
    masked_link = "https://pp.example.tw/v/" + "●" * 12
    assert row.body == SmsWording().verification(
        "zh-TW", last4=PassNumber("KHPS113-000043").last4, code="●" * 6, link=masked_link
    )
    [claim] = await OutboxQueue(engine, SEALER).claim("w1", T0, LEASE, limit=1)
    body = OutboxQueue(engine, SEALER).readable_body(claim.row)
    assert f"驗證碼{CODE}" in body and f"/v/{TOKEN}" in body


@pytest.mark.parametrize("outcome", ["accepted", "failed"])
async def test_a_finished_row_keeps_nothing_decryptable(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory, outcome: str
) -> None:
    await request_code(engine, uow_factory)
    queue = OutboxQueue(engine, SEALER)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)

    if outcome == "accepted":
        assert await queue.mark_sent(claim, "SM" + "1" * 32, "queued", T0)
    else:
        assert await queue.fail(claim, "21614", "'To' number is not a mobile number", T0)

    row = await outbox_row(engine)
    assert row.sealed is None
    assert "驗證碼●●●●●●" in row.body
    assert await where_readable(engine) == []


async def test_a_row_skipped_for_an_opted_out_phone_keeps_nothing_decryptable(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """The holder texted STOP after the code was queued: the row is skipped, never
    sent, and its sealed body goes with it."""
    await request_code(engine, uow_factory)
    async with uow_factory() as uow:
        await uow.opt_outs.add(OptOut(PHONE_B, T0, OptOutSource.KEYWORD, "STOP"))
        await uow.commit()

    assert await OutboxQueue(engine, SEALER).claim("w1", T0, LEASE, limit=1) == []

    row = await outbox_row(engine)
    assert (row.state, row.sealed) == ("skipped", None)
    assert await where_readable(engine) == []


async def test_a_sealed_body_opens_only_with_its_key_and_on_its_own_row(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await request_code(engine, uow_factory)
    [claim] = await OutboxQueue(engine, SEALER).claim("w1", T0, LEASE, limit=1)

    other_key = OutboxQueue(engine, BodySealer(b"another-secret-key-" + b"x" * 24))
    with pytest.raises(UnreadableSms):
        other_key.readable_body(claim.row)
    with pytest.raises(UnreadableSms):
        OutboxQueue(engine).readable_body(claim.row)  # no key at all
    # Someone with write access points the row at their own phone: it will not open.
    async with engine.begin() as conn:
        await conn.execute(update(outbox).values(to_phone="+886911000111", state="pending"))
    [moved] = await OutboxQueue(engine, SEALER).claim("w2", T0, LEASE, limit=1)
    with pytest.raises(UnreadableSms):
        OutboxQueue(engine, SEALER).readable_body(moved.row)


async def test_a_code_is_never_queued_without_a_sealing_key(engine: AsyncEngine) -> None:
    sms = OutgoingSms(to=PHONE_B, body=f"驗證碼{CODE}", request_id="r1", secrets=(CODE,))
    async with SqlUnitOfWorkFactory(engine)() as uow:
        with pytest.raises(UnreadableSms):
            await uow.outbox.add(sms, T0)
    async with engine.connect() as conn:
        assert (await conn.execute(select(outbox))).all() == []


async def test_a_body_queued_in_clear_before_sealing_is_redacted_once_sent(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """Rows written before revision 0004 (body in clear, nothing sealed) are sent as
    they are, then their code and token are masked like everyone else's."""
    legacy = f"港區通行證末四碼0043驗證碼{CODE}，24小時內有效，或點https://pp.example.tw/v/{TOKEN}"
    async with uow_factory() as uow:
        await uow.outbox.add(OutgoingSms(to=PHONE_B, body=legacy, request_id="r1"), T0)
        await uow.commit()
    queue = OutboxQueue(engine, SEALER)
    [claim] = await queue.claim("w1", T0, LEASE, limit=1)
    assert queue.readable_body(claim.row) == legacy

    assert await queue.mark_sent(claim, "SM" + "2" * 32, "queued", T0)

    assert await where_readable(engine) == []
    assert (await outbox_row(engine)).body == legacy.replace(CODE, "●" * 6).replace(TOKEN, "●" * 12)
