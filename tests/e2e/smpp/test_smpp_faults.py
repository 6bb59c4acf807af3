"""Every way the fake SMSC misbehaves, with the outbox worker sending as in
``portpass serve``: nothing queued is lost. Throttling, ``generic_nack``, a lost
answer, a dropped link mid-window and a refused bind are waited out (the fake clock is
moved from one due retry to the next); a permanent refusal fails only its own row and
frees the holder's 24-hour lock; a receipt that outruns its ``submit_sm_resp`` is kept."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from typing import Any

import pytest
from sqlalchemy import select

from bot.bootstrap import make_sender
from bot.config import Config
from bot.sms.outbox_worker import OUTBOX_WORKER, OutboxTuning
from core.model import OutgoingSms, Priority
from core.values import Phone
from fakes.clock import FakeClock
from fakes.smsc import FakeSmsc
from storage.tables import outbox
from tests.e2e.conftest import services_of

TUNING = OutboxTuning(
    poll_interval=0.02,
    lease=3600.0,  # fake time: moving the clock never expires a send under way
    stop_grace=0.5,
    config_error_pause=0.1,
    rng=random.Random(5),
)
NUMBERS = [f"+8869601234{n:02d}" for n in range(10, 30)]


def fast_sender(config: Config) -> Any:
    """The real sender, reconnecting within tens of milliseconds instead of seconds."""
    sender = make_sender(config)
    for session in sender.sessions:  # type: ignore[attr-defined]
        session.link = dataclasses.replace(
            session.link, reconnect_base=0.02, reconnect_cap=0.1, refused_pause=0.1
        )
    return sender


@pytest.fixture
def sender(smpp_config: Config) -> Any:
    return fast_sender(smpp_config)


@pytest.fixture
async def client(make_client, smpp_config, smsc):
    return await make_client(smpp_config, outbox=TUNING)


async def queue(client, count: int, body: str = "港務通知：您的通行證即將到期。") -> None:
    services = services_of(client)
    batch = [OutgoingSms(to=Phone(n), body=body, kind="notice") for n in NUMBERS[:count]]
    async with services.uow() as uow:
        await uow.outbox.add_many(batch, services.clock.now(), priority=Priority.NOTICE)
        await uow.commit()


async def states(client) -> list[str]:
    async with services_of(client).engine.connect() as conn:
        return [r.state for r in await conn.execute(select(outbox.c.state).order_by(outbox.c.id))]


async def drain(client, clock: FakeClock, seconds: float = 10.0) -> list[str]:
    """Until no row is pending or being sent: the fake clock jumps to each due retry."""
    services, worker = services_of(client), client.app[OUTBOX_WORKER]
    async with asyncio.timeout(seconds):
        while True:
            now = await states(client)
            if not {"pending", "sending"} & set(now):
                return now
            query = select(outbox.c.next_attempt_at).where(outbox.c.state == "pending")
            async with services.engine.connect() as conn:
                times = [r[0] for r in await conn.execute(query)]
            if times and min(times) > clock.now():
                clock.advance(seconds=(min(times) - clock.now()).total_seconds())
            worker.wake()
            await asyncio.sleep(0.02)


def arrived(smsc: FakeSmsc, count: int) -> set[str]:
    return {item.to for item in smsc.submitted} & {n[1:] for n in NUMBERS[:count]}


async def test_throttled_and_nacked_submits_are_retried(client, smsc, clock):
    smsc.faults.throttle, smsc.faults.nack = 3, 2
    await queue(client, 5)
    assert set(await drain(client, clock)) <= {"sent", "delivered"}
    assert len(arrived(smsc, 5)) == 5
    assert smsc.faults.throttle == smsc.faults.nack == 0  # the faults were met


async def test_a_permanent_refusal_fails_only_its_row(client, smsc, clock):
    smsc.faults.reject = 1
    await queue(client, 3)
    final = await drain(client, clock)
    assert sorted(final).count("failed") == 1
    assert len(arrived(smsc, 3)) == 2


async def test_a_lost_answer_is_sent_again_at_least_once(client, smsc, clock):
    smsc.faults.silent = 1  # taken, never answered: the response timeout passes
    await queue(client, 2)
    assert set(await drain(client, clock)) <= {"sent", "delivered"}
    assert len(arrived(smsc, 2)) == 2
    assert len(smsc.submitted) == 3  # one of them twice: the documented at-least-once case


async def test_a_link_dropped_mid_window_loses_nothing(client, smsc, clock):
    smsc.faults.delay = 0.1  # several submits in flight when the link goes
    smsc.faults.drop_on_submit = 1
    await queue(client, 8)
    assert set(await drain(client, clock)) <= {"sent", "delivered"}
    assert len(arrived(smsc, 8)) == 8
    assert smsc.binds.count("transceiver") >= 2  # it reconnected


async def test_a_slow_smsc_never_has_more_than_the_window_outstanding(
    make_client, smpp_env, tmp_path, smsc, clock
):
    from bot.config import load_config

    config = load_config(None, {**smpp_env, "PORTPASS_SMPP_WINDOW": "2"}, cwd=tmp_path)
    client = await make_client(config, outbox=TUNING, sender=make_sender(config))
    smsc.faults.delay = 0.05
    await queue(client, 10)
    assert set(await drain(client, clock)) <= {"sent", "delivered"}
    assert smsc.most_outstanding == 2


async def test_a_receipt_before_its_response_is_kept(client, smsc, clock):
    smsc.faults.receipt_first = True
    await queue(client, 2)
    await drain(client, clock)
    for _ in range(200):
        if await states(client) == ["delivered", "delivered"]:
            break
        await asyncio.sleep(0.02)
    assert await states(client) == ["delivered", "delivered"]


async def test_a_refused_bind_is_logged_once_and_retried_slowly(
    make_client, smpp_config, smsc, clock, caplog
):
    smsc.faults.refuse_binds = 3  # as if the password were wrong, three tries running
    with caplog.at_level(logging.INFO):
        client = await make_client(smpp_config, outbox=TUNING, sender=fast_sender(smpp_config))
        await queue(client, 1)
        assert set(await drain(client, clock)) <= {"sent", "delivered"}
    assert smsc.binds == ["refused"] * 3 + ["transceiver"]
    refusals = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name == "bot.providers.smpp.session"
    ]
    assert len(refusals) == 1  # once, not once per try
    assert smsc.password not in caplog.text


async def test_receipts_say_undelivered_and_free_nothing_twice(client, smsc, clock):
    smsc.faults.receipt_status = "UNDELIV"
    await queue(client, 1)
    await drain(client, clock)
    for _ in range(200):
        if await states(client) == ["undelivered"]:
            break
        await asyncio.sleep(0.02)
    assert await states(client) == ["undelivered"]


async def test_stop_unbinds(client, smsc):
    await smsc.wait_for(lambda: smsc.bound >= 1)
    await client.close()
    assert smsc.unbinds == 1


async def test_enquire_link_keeps_the_link_and_a_silent_smsc_is_left(
    make_client, smpp_env, tmp_path, smsc
):
    from bot.config import load_config

    env = {**smpp_env, "PORTPASS_SMPP_ENQUIRE_LINK_SECONDS": "1"}
    config = load_config(None, env, cwd=tmp_path)
    await make_client(config, outbox=TUNING, sender=fast_sender(config))
    await smsc.wait_for(lambda: smsc.enquire_links >= 1, 3.0)
    smsc.faults.answer_enquire_link = False
    await smsc.wait_for(lambda: smsc.binds.count("transceiver") >= 2, 6.0)


async def test_transmitter_and_receiver_binds(make_client, smpp_env, tmp_path, smsc, clock):
    from bot.config import load_config

    env = {**smpp_env, "PORTPASS_SMPP_BIND_MODE": "transmitter_receiver"}
    config = load_config(None, env, cwd=tmp_path)
    client = await make_client(config, outbox=TUNING, sender=make_sender(config))
    await smsc.wait_for(lambda: sorted(smsc.binds) == ["receiver", "transmitter"])
    await queue(client, 1)
    await drain(client, clock)
    for _ in range(200):
        if await states(client) == ["delivered"]:
            break
        await asyncio.sleep(0.02)
    assert await states(client) == ["delivered"]
