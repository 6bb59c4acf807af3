"""The SMPP link's state where operators look: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import asyncio

from bot.config import load_config
from tests.e2e.smpp.conftest import HOLDER, holder_gets
from tests.e2e.test_metrics import scrape


async def test_healthz_says_whether_the_link_is_bound(client, smsc):
    await smsc.send_mo(HOLDER, "驗證")
    await holder_gets(smsc, "通行證號")
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok"
    smpp = body["smpp"]
    assert smpp["bound"] is True
    assert smpp["binds"] == 1
    assert smpp["messages"] == 1
    assert smpp["submits"] >= 1

    smsc.faults.refuse_binds = 1_000  # the carrier changed the password
    await smsc.drop_all()
    await smsc.wait_for(lambda: "refused" in smsc.binds)
    for _ in range(100):  # the refusal reaches the session a moment after the SMSC sent it
        body = await (await client.get("/healthz")).json()
        if "bind_refused" in body["smpp"]:
            break
        await asyncio.sleep(0.01)
    assert body["status"] == "ok"  # alive: the outbox keeps the SMS meanwhile
    assert body["smpp"]["bound"] is False
    assert body["smpp"]["bind_refused"] == "wrong password"


async def test_metrics_show_the_link(make_client, smpp_env, tmp_path, smsc):
    config = load_config(None, {**smpp_env, "PORTPASS_METRICS_ENABLED": "true"}, cwd=tmp_path)
    client = await make_client(config)
    await smsc.wait_for(lambda: smsc.bound >= 1)
    await smsc.send_mo(HOLDER, "驗證")
    await holder_gets(smsc, "通行證號")
    await smsc.wait_for(lambda: len(smsc.deliver_answers) >= 2)  # the MO and a receipt
    scraped = await scrape(client)
    assert scraped.value("portpass_smpp_bound") == 1
    assert scraped.value("portpass_smpp_binds") == 1
    assert scraped.value("portpass_smpp_messages_total") == 1
    assert scraped.value("portpass_smpp_submits_total") >= 1
    assert scraped.value("portpass_smpp_receipts_total") >= 1
    assert scraped.value("portpass_smpp_window_in_use") == 0
