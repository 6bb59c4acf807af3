"""The outbox worker inside the app, sending with the real ``twilio`` client to
FakeTwilio over real HTTP, on a real SQLite file.

The app's clock is the fake one the test moves: backoff and leases are computed on
it, so a test moves time past a retry instead of sleeping through it. Real waiting is
limited to HTTP round trips and the worker's short poll.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.providers.sender import SendResult, SmsSender
from bot.providers.token_bucket import TokenBucket
from bot.providers.twilio_sender import TwilioSender
from bot.services import Services
from bot.sms.outbox_worker import OUTBOX_WORKER, OutboxTuning, OutboxWorker
from core.codes import SecretHasher, SystemSecrets
from core.errors import AlreadyRequested
from core.model import Channel, OutgoingSms, Requester, RequestState
from core.values import IdNumber, PassNumber, Phone
from core.verification.service import CodeSent, Policy, VerificationService
from fakes.clock import FakeClock
from fakes.twilio_api import FakeTwilio, Fault
from storage.db import create_engine
from storage.outbox.queue import redact_legacy
from storage.outbox.sealing import BodySealer
from storage.tables import outbox, verification_requests
from storage.uow import SqlUnitOfWorkFactory
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, AppClient, services_of

FROM = "+15005550006"
HOLDER = ("KHPS113-000040", "QQ12345671", "0960123411")
HOLDER_E164 = "+886960123411"
# Short real-time waits; long leases in fake time, so moving the clock past a
# backoff never expires the lease of a send that is still under way.
TUNING = OutboxTuning(
    poll_interval=0.02,
    lease=3600.0,
    backoff_base=1.0,
    backoff_cap=8.0,
    config_error_pause=0.05,
    stop_grace=0.5,
)

MakeClient = Callable[..., Awaitable[AppClient]]


def twilio_sender(
    config: Config, *, auth_token: str = TWILIO_TOKEN, timeout: float = 2.0
) -> TwilioSender:
    """What ``make_sender`` builds from the config, with a test-sized timeout."""
    return TwilioSender(
        config.twilio.account_sid,
        auth_token,
        from_number=config.twilio.from_number,
        status_callback_url=f"{config.server.public_base_url}/sms/status",
        api_base_url=config.twilio.api_base_url,
        timeout=timeout,
    )


async def start(
    make_client: MakeClient, config: Config, tuning: OutboxTuning = TUNING, **overrides: Any
) -> tuple[AppClient, Services, OutboxWorker]:
    overrides.setdefault("sender", twilio_sender(config))
    client = await make_client(config, outbox=tuning, **overrides)
    return client, services_of(client), client.app[OUTBOX_WORKER]


async def request_code(services: Services) -> CodeSent:
    return await request_code_through(services.verification)


async def request_code_through(service: VerificationService) -> CodeSent:
    pass_no, id_no, phone = HOLDER
    requester = Requester(key=f"sms:{HOLDER_E164}", channel=Channel.SMS, actor="sms:0960-***-411")
    return await service.request_as_holder(
        requester, PassNumber.parse(pass_no), IdNumber.parse(id_no), Phone.parse(phone)
    )


async def rows(services: Services) -> list[Any]:
    async with services.engine.connect() as conn:
        return list(await conn.execute(select(outbox).order_by(outbox.c.id)))


async def request_state(services: Services, request_id: str) -> RequestState:
    query = select(verification_requests.c.state).where(verification_requests.c.id == request_id)
    async with services.engine.connect() as conn:
        return RequestState((await conn.execute(query)).scalar_one())


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110 - polling what a fake server records
            await asyncio.sleep(0.01)


async def row_where(services: Services, **expected: Any) -> Any:
    """Wait until the (only) outbox row has the ``expected`` column values."""
    found: list[Any] = []
    try:
        async with asyncio.timeout(5.0):
            while True:
                found = await rows(services)
                if len(found) == 1 and all(getattr(found[0], k) == v for k, v in expected.items()):
                    return found[0]
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"outbox is {found!r}, expected one row with {expected}") from None


async def retry_now(clock: FakeClock, worker: OutboxWorker, row: Any) -> None:
    """Move the fake clock to the row's next attempt and wake the worker."""
    clock.current = max(clock.current, row.next_attempt_at)
    worker.wake()


# --- sending -------------------------------------------------------------------------


async def test_a_holder_request_reaches_twilio_at_once(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    # A poll far in the future: only the wake-up after the commit can send it in time.
    _, services, _ = await start(
        make_client, twilio_config, OutboxTuning(poll_interval=600.0, lease=3600.0)
    )
    sent = await request_code(services)

    row = await row_where(services, state="sent")

    [form] = fake.requests
    assert form["To"] == HOLDER_E164
    assert form["From"] == FROM
    assert form["StatusCallback"] == f"{PUBLIC_BASE_URL}/sms/status"
    assert form["Body"].startswith("【港務】")  # who is writing (texts_zh_tw.sender_name), first
    assert re.search(r"末四碼0040，驗證碼\d{6}", form["Body"])
    assert f"{PUBLIC_BASE_URL}/v/" in form["Body"]
    # What stays in the database: the text with its code and link token masked.
    text = form["Body"]  # signed when written, in the holder's language
    assert row.body == redact_legacy(text) != text
    assert row.sealed is None
    [message] = fake.messages
    assert (row.provider_sid, row.provider_status) == (message["sid"], "queued")
    assert (row.request_id, row.attempts, row.lease_until) == (sent.request_id, 1, None)
    assert await request_state(services, sent.request_id) is RequestState.LIVE


async def test_rows_queued_before_start_are_sent(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    client, _, _ = await start(make_client, twilio_config)
    await client.close()  # the first process stops; another one queues a row
    engine = create_engine(twilio_config.database.url)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            sms = OutgoingSms(to=Phone.parse(HOLDER[2]), body="hello", kind="notice")
            await uow.outbox.add(sms, clock.now())
            await uow.commit()
    finally:
        await engine.dispose()
    assert fake.requests == []

    _, services, _ = await start(make_client, twilio_config)

    await row_where(services, state="sent")
    assert [m["body"] for m in fake.messages] == ["hello"]  # sent as written


async def test_an_sms_sealed_under_another_key_fails_and_frees_the_r2_lock(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """The secret key was replaced while a code waited in the outbox (the key file was
    lost and regenerated): the body can never be opened, so the row fails with a
    reason an operator understands and the holder may ask again at once."""
    client, _, _ = await start(make_client, twilio_config)
    await client.close()
    engine = create_engine(twilio_config.database.url)
    try:
        old_key = b"the-key-before-it-was-replaced-" + b"o" * 16
        service = VerificationService(
            SqlUnitOfWorkFactory(engine, sealer=BodySealer(old_key)),
            clock,
            SecretHasher(old_key),
            SystemSecrets(),
            Policy(PUBLIC_BASE_URL),
        )
        first = await request_code_through(service)
    finally:
        await engine.dispose()

    _, services, _ = await start(make_client, twilio_config)

    row = await row_where(services, state="failed")
    assert "cannot be opened" in row.error_message
    assert row.sealed is None
    assert fake.requests == []  # nothing unreadable was sent
    assert await request_state(services, first.request_id) is RequestState.RELEASED
    await request_code(services)  # R2 does not hold them back
    await until(lambda: len(fake.messages) == 1)


async def test_server_errors_and_timeouts_are_retried_then_sent_once(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    sender = twilio_sender(twilio_config, timeout=0.3)
    _, services, worker = await start(make_client, twilio_config, sender=sender)
    fake.fail_next(Fault.server_error(), Fault.unavailable(), Fault.timeout(5.0))
    start_time = clock.now()

    await request_code(services)

    row = await row_where(services, state="pending", attempts=1)
    assert "HTTP 500" in row.error_message
    # Full jitter under the first ceiling (backoff_base): due within a second.
    assert start_time <= row.next_attempt_at <= start_time + _seconds(1.0)
    assert fake.messages == []
    await retry_now(clock, worker, row)
    row = await row_where(services, state="pending", attempts=2)
    assert "HTTP 503" in row.error_message
    await retry_now(clock, worker, row)
    row = await row_where(services, state="pending", attempts=3)
    assert "no answer from Twilio" in row.error_message
    await retry_now(clock, worker, row)

    row = await row_where(services, state="sent", attempts=4)
    assert len(fake.requests) == 4
    assert [m["sid"] for m in fake.messages] == [row.provider_sid]  # sent once


async def test_a_timed_out_send_may_have_been_delivered_at_least_once(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """The documented window: Twilio accepted the message but its answer came too
    late; the worker cannot tell, retries, and the holder gets the same SMS twice."""
    sender = twilio_sender(twilio_config, timeout=0.2)
    _, services, worker = await start(make_client, twilio_config, sender=sender)
    fake.fail_next(Fault.timeout(0.6, then_send=True))

    await request_code(services)
    row = await row_where(services, state="pending", attempts=1)
    await retry_now(clock, worker, row)
    row = await row_where(services, state="sent")

    await until(lambda: len(fake.messages) == 2)
    first, second = fake.messages
    assert first["body"] == second["body"]  # the same code and link: harmless
    assert row.provider_sid in (first["sid"], second["sid"])


async def test_a_sid_the_provider_gave_before_is_recorded_and_never_resent(
    make_client: MakeClient,
    twilio_config: Config,
    fake: FakeTwilio,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Twilio accepts a message but answers with a sid already stored
    for another row. The answer is recorded (sent, without the sid) instead of failing
    on the unique index, which left the row leased and sent it again."""
    _, services, worker = await start(make_client, twilio_config)
    await request_code(services)
    first = await row_where(services, state="sent")
    fake.reuse_sid_next(first.provider_sid)

    with caplog.at_level(logging.WARNING, logger="storage.outbox.queue"):
        async with services.uow() as uow:
            sms = OutgoingSms(to=Phone.parse(HOLDER[2]), body="notice", kind="notice")
            await uow.outbox.add(sms, clock.now())
            await uow.commit()
        await until(lambda: len(fake.messages) == 2)
        await settled(services, 2)
        clock.current += timedelta(seconds=TUNING.lease + 1)  # past any lease
        worker.wake()
        await asyncio.sleep(0.2)  # a few polls

    assert len(fake.requests) == 2  # never sent again
    second = (await rows(services))[1]
    assert (second.state, second.provider_sid, second.sealed) == ("sent", None, None)
    assert f"outbox {first.id}" in second.error_message
    warnings = [r.getMessage() for r in caplog.records if r.name == "storage.outbox.queue"]
    assert len(warnings) == 1 and "already recorded" in warnings[0]
    assert first.provider_sid not in warnings[0]  # masked: SM…abcd


async def settled(services: Services, count: int) -> list[Any]:
    """The outbox once it holds ``count`` rows and none is pending or being sent."""
    async with asyncio.timeout(5.0):
        while True:
            found = await rows(services)
            if len(found) == count and all(r.state not in ("pending", "sending") for r in found):
                return found
            await asyncio.sleep(0.01)


async def test_a_429_waits_for_retry_after(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    _, services, worker = await start(make_client, twilio_config)
    fake.fail_next(Fault.rate_limited(retry_after=120))
    start_time = clock.now()

    await request_code(services)
    row = await row_where(services, state="pending", attempts=1)

    assert row.next_attempt_at >= start_time + _seconds(120)  # not the 1-second backoff
    clock.current = row.next_attempt_at - _seconds(1)
    worker.wake()
    await asyncio.sleep(0.1)  # a few polls: nothing is due yet
    assert len(fake.requests) == 1
    await retry_now(clock, worker, row)
    await row_where(services, state="sent", attempts=2)
    assert len(fake.messages) == 1


# 21610 (the recipient opted out) fails the row too, and opts the phone out: no second
# code (tests/e2e/sms/test_outbox_opt_out.py).
@pytest.mark.parametrize("code", [21211, 21408, 21614])
async def test_a_permanent_error_fails_the_row_and_frees_the_r2_lock(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, code: int
) -> None:
    _, services, _ = await start(make_client, twilio_config)
    fake.fail_next(Fault.twilio_error(code))

    first = await request_code(services)
    row = await row_where(services, state="failed")

    assert (row.error_code, row.attempts, row.provider_sid) == (str(code), 1, None)
    assert row.error_message and HOLDER_E164[4:] not in row.error_message
    assert fake.messages == []
    assert await request_state(services, first.request_id) is RequestState.RELEASED
    # The holder never got a code, so they may ask again at once (R2).
    second = await request_code(services)
    await until(lambda: len(fake.messages) == 1)
    assert fake.messages[0]["to"] == HOLDER_E164
    assert await request_state(services, second.request_id) is RequestState.LIVE
    # And that one, accepted by Twilio, holds the lock again.
    with pytest.raises(AlreadyRequested):
        await request_code(services)


async def test_transient_errors_never_fail_a_row_before_its_last_chance(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """Twilio answers 500 for a whole day. The row is retried, with
    gaps capped at backoff_cap, until its code is about to expire (its last try is
    final_try_margin before), and only then failed, which frees the R2 lock."""
    fake.fail_while(Fault.server_error)
    tuning = replace(TUNING, backoff_cap=1800.0, final_try_margin=60.0)
    _, services, worker = await start(make_client, twilio_config, tuning)
    sent = await request_code(services)
    expires = sent.expires_at
    gaps: list[float] = []

    row = await row_where(services, state="pending", attempts=1)
    while row.state == "pending":
        assert await request_state(services, sent.request_id) is RequestState.LIVE
        gaps.append((row.next_attempt_at - clock.now()).total_seconds())
        assert row.next_attempt_at <= expires - timedelta(seconds=60)
        attempts = row.attempts
        await retry_now(clock, worker, row)
        row = await row_where_any(services, lambda r, n=attempts: r.attempts > n)

    assert row.state == "failed"
    assert clock.now() == expires - timedelta(seconds=60)  # the last chance, not before
    assert row.error_message.startswith(f"gave up after {row.attempts} attempts: Twilio")
    assert row.error_code is None and row.sealed is None
    assert max(gaps) <= 1800.0
    assert len(fake.requests) == row.attempts and fake.messages == []
    assert await request_state(services, sent.request_id) is RequestState.RELEASED


async def test_a_row_claimed_after_its_code_expired_is_failed_without_sending(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """Every instance was down for a day: the queued code has expired, sending it
    would only confuse; the row is failed and nothing is sent."""
    fake.fail_next(Fault.server_error())
    _, services, worker = await start(make_client, twilio_config)
    sent = await request_code(services)
    row = await row_where(services, state="pending", attempts=1)

    clock.current = sent.expires_at
    worker.wake()

    row = await row_where(services, state="failed")
    assert row.error_message == "gave up after 1 attempts: expired before it could be sent"
    assert len(fake.requests) == 1
    assert await request_state(services, sent.request_id) is RequestState.RELEASED


async def row_where_any(services: Services, condition: Callable[[Any], bool]) -> Any:
    """Wait until the (only) outbox row meets ``condition`` and is not being sent."""
    async with asyncio.timeout(5.0):
        while True:
            [row] = await rows(services)
            if row.state != "sending" and condition(row):
                return row
            await asyncio.sleep(0.01)


async def test_rejected_credentials_keep_the_rows_and_alert_once(
    make_client: MakeClient,
    twilio_config: Config,
    fake: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = twilio_sender(twilio_config, auth_token="not-the-token")
    _, services, _ = await start(make_client, twilio_config, sender=sender)

    with caplog.at_level(logging.INFO, logger="bot.sms.outbox_worker"):
        sent = await request_code(services)
        # Tried, paused, tried again after each pause: still refused.
        await until(lambda: len(fake.requests) >= 3)

    row = (await rows(services))[0]
    assert row.state in ("pending", "sending")  # one more try may be under way
    assert (row.attempts, row.error_code) == (0, None)
    assert await request_state(services, sent.request_id) is RequestState.LIVE
    alerts = [
        r
        for r in caplog.records
        if r.name == "bot.sms.outbox_worker" and r.levelno >= logging.ERROR
    ]
    assert len(alerts) == 1
    assert "rejected the account SID or auth token" in alerts[0].getMessage()


async def test_a_restart_takes_over_a_send_cut_off_by_shutdown(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    """The first process stops while Twilio has not answered: the row stays claimed
    until its lease expires, then the next process sends it."""
    tuning = OutboxTuning(poll_interval=0.02, lease=60.0, stop_grace=0.05)
    first, services, _ = await start(
        make_client, twilio_config, tuning, sender=twilio_sender(twilio_config, timeout=30)
    )
    fake.fail_next(Fault.timeout(30.0))
    await request_code(services)
    await until(lambda: len(fake.requests) == 1)

    await first.close()  # gives up on the send after stop_grace, and stops cleanly

    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("outbox")]
    _, services, worker = await start(make_client, twilio_config, tuning)
    await asyncio.sleep(0.1)
    row = await row_where(services, state="sending", attempts=0)
    assert fake.messages == []  # still leased to the process that died
    clock.current = row.lease_until
    worker.wake()

    row = await row_where(services, state="sent")
    assert row.attempts == 2  # the lost attempt counts
    assert len(fake.messages) == 1


class RecordingSender:
    """Notes the bucket clock's time of each send, then sends through ``inner``."""

    def __init__(self, inner: SmsSender, now: Callable[[], float]) -> None:
        self.inner, self.now, self.times = inner, now, list[float]()

    async def send(self, to: str, body: str) -> SendResult:
        self.times.append(self.now())
        return await self.inner.send(to, body)

    async def close(self) -> None:
        await self.inner.close()


async def test_the_token_bucket_limits_the_send_rate(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio
) -> None:
    """Twenty SMS at 5 per second with a burst of 5: on the bucket's (fake) clock,
    send k leaves no earlier than (k - 4) / 5 seconds after the first."""
    elapsed = [0.0]

    async def sleep(seconds: float) -> None:
        elapsed[0] += seconds
        await asyncio.sleep(0)

    bucket = TokenBucket(5, burst=5, clock=lambda: elapsed[0], sleep=sleep)
    sender = RecordingSender(twilio_sender(twilio_config), lambda: elapsed[0])
    tuning = OutboxTuning(poll_interval=0.02, lease=3600.0, bucket=bucket)
    _, services, _ = await start(make_client, twilio_config, tuning, sender=sender)

    async with services.uow() as uow:
        for n in range(20):
            sms = OutgoingSms(to=Phone.parse(HOLDER[2]), body=f"notice {n}", kind="notice")
            await uow.outbox.add(sms, services.clock.now())
        await uow.commit()
    await until(lambda: len(fake.messages) == 20)

    times = sorted(sender.times)
    assert len(times) == 20
    for k, at in enumerate(times):
        assert at >= (k - 4) / 5 - 1e-6, (k, at)
    assert times[-1] == pytest.approx(3.0)  # and no slower than the bucket allows


async def test_a_send_that_would_wait_past_its_lease_goes_back_and_claims_wait(
    make_client: MakeClient,
    twilio_config: Config,
    fake: FakeTwilio,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One SMS every 2 s and a 2 s lease: the second SMS may wait for its slot at most
    half the lease, so it goes back untried (no attempt counted), the worker claims
    nothing until the rate has room, and then sends it, once."""
    tuning = OutboxTuning(poll_interval=0.02, lease=2.0, bucket=TokenBucket(0.5, burst=1))
    _, services, _ = await start(make_client, twilio_config, tuning)
    with caplog.at_level(logging.INFO, logger="bot.sms.outbox_worker"):
        async with services.uow() as uow:
            for n in range(2):
                sms = OutgoingSms(to=Phone.parse(HOLDER[2]), body=f"notice {n}", kind="notice")
                await uow.outbox.add(sms, services.clock.now())
            await uow.commit()
        await until(lambda: len(fake.messages) == 2)
    assert fake.accepted_at[1] - fake.accepted_at[0] >= 1.9
    assert sorted(m["body"][-8:] for m in fake.messages) == ["notice 0", "notice 1"]
    assert [row.attempts for row in await rows(services)] == [1, 1]
    assert "the send rate is booked" in caplog.text


async def test_logs_mask_the_phone_and_never_show_the_body(
    make_client: MakeClient,
    twilio_config: Config,
    fake: FakeTwilio,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, services, worker = await start(make_client, twilio_config)
    # serve quietens the twilio client's request log; the test wants every line of it.
    caplog.set_level(logging.DEBUG, logger="twilio.async_http_client")
    with caplog.at_level(logging.DEBUG):
        fake.fail_next(Fault.server_error())
        await request_code(services)
        row = await row_where(services, state="pending", attempts=1)
        await retry_now(clock, worker, row)
        row = await row_where(services, state="sent")

    ours = [r.getMessage() for r in caplog.records if r.name == "bot.sms.outbox_worker"]
    assert any("0960-***-411" in line for line in ours)
    code = re.search(r"驗證碼(\d{6})", fake.messages[-1]["body"])
    assert code is not None
    # Ours and the twilio client's (the database driver's DEBUG log shows SQL values).
    everything = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("bot.", "twilio"))
    )
    assert "twilio.async_http_client" in {r.name for r in caplog.records}
    assert "960123411" not in everything
    assert code.group(1) not in everything
    assert "/v/" not in everything


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
