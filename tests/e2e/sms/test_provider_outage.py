"""A provider outage loses no SMS.

Twilio fails every request for ten minutes (by the test's fake clock, not real time):
500s, 503s, 429s with a Retry-After, and timeouts, some of which Twilio had in fact
accepted (the answer came too late). Then it recovers. Every queued SMS (holders'
codes, notices and campaign traffic) must arrive, every code request must stay live
(the holders were told their code was sent), and the only duplicates allowed are the
ones at-least-once delivery cannot avoid: a send that timed out although Twilio had
taken it. Before the fix, rows ran out of their 8 attempts within the ten minutes,
failed for good and released their requests.

The worker runs as in ``portpass serve`` with production backoff (base 2 s, cap 5 min,
full jitter from a seeded generator); the test moves the clock from one due retry to
the next instead of sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.config import Config
from bot.services import Services
from bot.sms.outbox_worker import OutboxTuning, OutboxWorker
from core.model import Channel, OutgoingSms, Priority, Requester, RequestState
from fakes.clock import FakeClock
from fakes.twilio_api import FakeTwilio, Fault
from storage.tables import outbox, verification_requests
from tests.e2e.sms.test_outbox_worker import MakeClient, rows, start, twilio_sender

OUTAGE = timedelta(minutes=10)
PRODUCTION_BACKOFF = OutboxTuning(
    poll_interval=0.02,
    lease=3600.0,  # fake time: moving the clock never expires a send under way
    stop_grace=0.5,
    rng=random.Random(8),  # seeded jitter: the same run every time
)


#: What an outage looks like from here, per 20 requests: mostly 5xx, some 429s, and a
#: few timeouts, one of which Twilio had in fact accepted.
_CYCLE = ("500",) * 8 + ("503",) * 6 + ("429",) * 3 + ("timeout",) * 2 + ("late-accept",)


@dataclass
class Outage:
    """Twilio's answers while down: a cycle of failures, by the fake clock."""

    clock: FakeClock
    until: Any
    served: Counter[str]
    step: int = 0

    def __call__(self) -> Fault | None:
        if self.clock.now() >= self.until:
            return None
        self.step += 1
        kind = _CYCLE[self.step % len(_CYCLE)]
        self.served[kind] += 1
        return {
            "500": Fault.server_error(),
            "503": Fault.unavailable(),
            "429": Fault.rate_limited(retry_after=30),
            "timeout": Fault.timeout(0.15),
            "late-accept": Fault.timeout(0.15, then_send=True),  # Twilio did take it
        }[kind]


async def queue_traffic(services: Services) -> list[str]:
    """A code for every demo holder with a phone (priority 0), plus notices (1) and a
    campaign (2): the request ids of the codes."""
    async with services.uow() as uow:
        records = [r for r in await uow.passes.list() if r.phone is not None]
    today = services.clock.now().date()
    request_ids = []
    for n, record in enumerate(r for r in records if r.is_valid_on(today)):
        assert record.phone is not None
        requester = Requester(key=f"outage:{n}", channel=Channel.SMS, actor="test")
        sent = await services.verification.request_as_holder(
            requester, record.pass_no, record.id_no, record.phone
        )
        request_ids.append(sent.request_id)
    async with services.uow() as uow:
        for n, record in enumerate(records[:10]):
            assert record.phone is not None
            now = services.clock.now()
            notice = OutgoingSms(to=record.phone, body=f"notice {n}", kind="notice")
            await uow.outbox.add(notice, now, priority=Priority.NOTICE)
            campaign = OutgoingSms(to=record.phone, body=f"campaign {n}", kind="campaign")
            await uow.outbox.add(campaign, now, priority=Priority.CAMPAIGN)
        await uow.commit()
    return request_ids


async def run_until_all_sent(services: Services, worker: OutboxWorker, clock: FakeClock) -> None:
    """Let the worker finish what is due, then move the clock to the next due retry;
    stop when no row is pending or being sent."""
    async with asyncio.timeout(120):
        while True:
            found = await rows(services)
            if any(r.state == "sending" for r in found):
                await asyncio.sleep(0.01)
                continue
            pending = [r.next_attempt_at for r in found if r.state == "pending"]
            if not pending:
                return
            clock.current = max(clock.current, min(pending))
            worker.wake()
            await asyncio.sleep(0.02)


async def test_a_ten_minute_provider_outage_loses_no_sms(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    served: Counter[str] = Counter()
    fake.fail_while(Outage(clock, clock.now() + OUTAGE, served))
    sender = twilio_sender(twilio_config, timeout=0.1)
    _, services, worker = await start(make_client, twilio_config, PRODUCTION_BACKOFF, sender=sender)

    request_ids = await queue_traffic(services)
    await run_until_all_sent(services, worker, clock)
    await asyncio.sleep(0.5)  # late accepts still sleeping in the fake finish

    found = await rows(services)
    accepted = Counter(m["body"] for m in fake.messages)
    lost = [r.id for r in found if r.state != "sent"]
    duplicated = sum(accepted.values()) - len(accepted)
    print(  # the figures docs/operations.md quotes
        f"\noutage of {OUTAGE}: {len(found)} SMS queued, {len(fake.requests)} requests to "
        f"Twilio, faults served {dict(served)}, most attempts for one SMS "
        f"{max(r.attempts for r in found)}, lost {len(lost)}, duplicated {duplicated}"
    )
    assert served["500"] > 0 and served["429"] > 0 and served["late-accept"] > 0
    assert lost == []
    assert len(accepted) == len(found)  # every row's text reached Twilio
    # The only duplicates: sends Twilio took although its answer came too late.
    assert duplicated == served["late-accept"]
    assert fake.messages[-1]  # and the outage really did end in sends
    async with services.engine.connect() as conn:
        states = (
            await conn.execute(
                select(verification_requests.c.state).where(
                    verification_requests.c.id.in_(request_ids)
                )
            )
        ).scalars()
        assert set(states) == {RequestState.LIVE.value}  # nobody's request was released
        retried = (await conn.execute(select(outbox.c.attempts))).scalars()
        assert max(retried) > 8  # more attempts than the old limit, none given up
