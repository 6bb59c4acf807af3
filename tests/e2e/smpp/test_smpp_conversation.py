"""A holder's whole conversation by SMS through an SMPP account: texts arrive as
``deliver_sm`` from the fake SMSC over TCP, replies leave through the outbox as
``submit_sm``, and receipts mark them delivered."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.model import Status
from core.status import status_of
from core.values import PassNumber
from storage.tables import outbox
from tests.e2e.conftest import services_of
from tests.e2e.smpp.conftest import HOLDER, code_in, holder_gets, texts_to

ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"


async def status(client, pass_no: str) -> Status:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(pass_no))
    assert record is not None
    return status_of(record)


async def test_a_holder_texts_and_verifies_by_replying_with_the_code(client, smsc):
    assert await smsc.send_mo(HOLDER, "驗證") == [0]
    await holder_gets(smsc, ASK_PASS)
    assert await smsc.send_mo(HOLDER, "KHPS113-000043") == [0]
    await holder_gets(smsc, "身分證號")
    assert await smsc.send_mo(HOLDER, "QQ12345673") == [0]
    await holder_gets(smsc, "確定要取得KHPS113-000043")
    assert await smsc.send_mo(HOLDER, "1") == [0]
    verification = await holder_gets(smsc, "末四碼0043")
    assert "https://pp.example.tw/v/" in verification
    assert await smsc.send_mo(HOLDER, code_in(verification)) == [0]
    await holder_gets(smsc, "手機驗證完成")
    assert await status(client, "KHPS113-000043") is Status.VERIFIED
    sent = len(smsc.submitted)

    # every SMS went out UCS-2 (Chinese), asked for a receipt, and the receipts
    # marked every row delivered
    assert {item.data_coding for item in smsc.submitted} == {8}
    assert all(item.registered_delivery == 1 for item in smsc.submitted)
    services = services_of(client)

    async def states() -> set[str]:
        async with services.engine.connect() as conn:
            rows = await conn.execute(select(outbox.c.state, outbox.c.provider_status))
            return {f"{r.state}/{r.provider_status}" for r in rows}

    await smsc.wait_for(lambda: len(smsc.deliver_answers) >= 5 + sent, 5.0)
    for _ in range(100):
        if await states() == {"delivered/delivered"}:
            break
        await asyncio.sleep(0.02)
    assert await states() == {"delivered/delivered"}


async def test_a_long_message_is_put_together_before_the_engine_reads_it(client, smsc):
    # 驗證 padded past one UCS-2 segment: the engine must see one message, not parts
    answers = await smsc.send_mo(HOLDER, "驗證" + "　" * 80)
    assert answers == [0, 0]
    [reply] = await texts_to(smsc, HOLDER, 1)
    assert reply.endswith(ASK_PASS)


async def test_a_sender_abroad_gets_no_reply(client, smsc):
    assert await smsc.send_mo("+14155550100", "驗證") == [0]
    assert await smsc.send_mo(HOLDER, "驗證") == [0]
    await texts_to(smsc, HOLDER, 1)
    assert smsc.texts_to("+14155550100") == []


async def test_a_message_delivered_again_is_answered_once(client, smsc):
    assert await smsc.send_mo(HOLDER, "驗證") == [0]
    assert await smsc.send_mo(HOLDER, "驗證") == [0]  # the SMSC lost our answer
    await texts_to(smsc, HOLDER, 1)
    assert await smsc.send_mo(HOLDER, "KHPS113-000043") == [0]
    texts = await texts_to(smsc, HOLDER, 2)
    assert "身分證號" in texts[1]
    assert len(smsc.texts_to(HOLDER)) == 2


async def test_english_replies_go_out_gsm7_and_chinese_ucs2(client, smsc):
    assert await smsc.send_mo(HOLDER, "VERIFY") == [0]
    await holder_gets(smsc, "通行證號")
    assert await smsc.send_mo(HOLDER, "EN") == [0]
    await holder_gets(smsc, "Please type your pass number")
    codings = {item.text: item.data_coding for item in smsc.submitted}
    assert codings["請輸入通行證號（例：KHPS113-000043）。"] == 8  # UCS-2
    assert codings["Switched to English."] == 0  # GSM-7: half the cost
