"""The outbox worker: hands queued SMS to the provider, inside ``portpass serve``.

Use cases never call Twilio: they queue an SMS in the outbox in the same transaction as the
change that needs it (docs/design.md#one-transaction-and-the-outbox), and this worker sends
it. It is woken by the unit of work right after such a commit (a holder is waiting for the
code), and polls every ``poll_interval`` as well, for rows queued by another process and
retries that come due. Each row is claimed under a lease
(:class:`storage.outbox.queue.OutboxQueue`), sent at most ``sms.max_per_second`` per second
(:mod:`bot.providers.send_rate`: in memory on SQLite, shared by every process on PostgreSQL;
a row that could not have a slot within half its lease goes back, and no more are claimed
until the rate has room) and then marked: sent; retried with exponential backoff and full
jitter (:mod:`bot.background.backoff`), capped at ``backoff_cap`` (5 minutes) and never
sooner than a 429's ``Retry-After`` (but for a row's last chance, below); or failed.

Only a permanent provider answer (a number Twilio will not text) fails a row at once.
Transient errors (5xx, 429, timeouts, a dropped connection) never use a row up: a
provider outage is waited out for as long as the SMS is of any use, that is until its
``expires_at`` (a verification SMS: when its code expires; other SMS: ``lifetime``
after they were queued). The last try is made ``final_try_margin`` before that; a row
still unsent then is failed, as is one claimed after it (a worker that was down all
that time). A failed verification SMS releases its request in the same transaction,
so its holder can ask again at once (R2), and its ``notify_to`` chat is told by the
failure notices (:mod:`bot.background.failure_notices`), which ``on_failure`` wakes.
The loop itself (start, wake, stop, a pass that raises) is :mod:`bot.background.loop`'s.
Rejected credentials fail nothing: the rows go back and the worker pauses.

Delivery is at least once, not exactly once. Nothing queued is lost: a row stays in
the outbox until a provider answer is recorded, and a crash between claiming and
recording leaves it ``sending`` until its lease expires, when any worker claims it
again. Two workers never hold the same row at once (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). The remaining window for a duplicate SMS:

- the provider accepted the message but its answer never arrived (a timeout, a
  dropped connection): the worker cannot tell this from a failure and retries;
- the provider accepted the message but ``sent`` was never committed: the process
  died in those few milliseconds, or the database could not be written just then;
- a send outlived its lease (``lease`` must exceed the sender's timeout plus the wait
  for a token, which ``max_in_flight`` bounds) and another worker claimed the row.
  The late worker's mark is refused, and a warning names the row.

A duplicate verification SMS carries the same code and link, so it confuses no one.
A row failed at its expiry after timeouts may in fact have been delivered by one of
them; its code has expired by then either way.

Logs name rows by id and phones masked; SMS bodies (they hold codes) are never logged.
A body that carries a code is stored sealed (:mod:`storage.outbox.sealing`) and opened here,
right before it is handed to the provider, and nowhere else.

Why one module: the claim, the send, the retry policy and the pause on bad
credentials are one loop whose guarantees above only hold read together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from bot.background.backoff import Backoff
from bot.background.failure_notices import FAILURE_NOTICES
from bot.background.loop import BackgroundLoop, describe
from bot.providers.send_rate import SendRate
from bot.providers.sender import (
    PermanentFailure,
    SendResult,
    Sent,
    SmsSender,
    TransientFailure,
    masked,
)
from bot.providers.token_bucket import TokenBucket
from bot.services import SERVICES
from core.ports import Clock
from storage.outbox.queue import Claim, OutboxQueue, QueuedSms, UnreadableSms

log = logging.getLogger(__name__)

#: The shortest idle sleep: keeps a busy outbox (rows due but held by another
#: instance's claim transaction) from turning the loop into a spin.
_MIN_IDLE = 0.01


@dataclass(frozen=True)
class OutboxTuning:
    """The worker's timings (seconds). Production uses the defaults; tests and the
    benchmark shrink them, or pass a seeded ``rng`` and a bucket on a fake clock."""

    poll_interval: float = 2.0
    lease: float = 60.0
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    #: How long an SMS without an ``expires_at`` of its own is worth trying to send.
    lifetime: float = 24 * 3600.0
    #: The last try of a row is made this long before it expires: a code that arrives
    #: with less than this left is hardly usable, and the send itself takes time.
    final_try_margin: float = 60.0
    config_error_pause: float = 60.0
    max_in_flight: int = 10
    stop_grace: float = 10.0
    worker_id: str | None = None
    rng: random.Random | None = None
    bucket: SendRate | None = None


class OutboxWorker(BackgroundLoop):
    """Claims due outbox rows and sends them, up to ``max_in_flight`` at a time."""

    name = "outbox worker"

    def __init__(
        self,
        queue: OutboxQueue,
        sender: SmsSender,
        clock: Clock,
        *,
        max_per_second: float,
        tuning: OutboxTuning | None = None,
        on_failure: Callable[[], None] | None = None,
        send_rate: SendRate | None = None,
        wake_on_commit: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
    ) -> None:
        self._tuning = tuning = tuning or OutboxTuning()
        super().__init__(interval=tuning.poll_interval, stop_grace=tuning.stop_grace)
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._on_failure = on_failure
        self._rate = tuning.bucket or send_rate or TokenBucket(max_per_second)
        self._retries = Backoff(
            tuning.backoff_base,
            tuning.backoff_cap,
            tuning.rng or random.Random(),  # noqa: S311 - jitter, not a secret
        )
        self._lease = timedelta(seconds=tuning.lease)
        # A claimed row may wait for a token; keep that wait well inside the lease.
        self._max_in_flight = max(
            1, min(tuning.max_in_flight, math.floor(self._rate.rate * tuning.lease / 4))
        )
        self.worker_id = tuning.worker_id or self.worker_id
        self._in_flight: set[asyncio.Task[None]] = set()
        self._paused_until = 0.0
        self._alarm_raised = False
        self._wake_on_commit = wake_on_commit
        self._stop_listening: Callable[[], None] | None = None

    # --- the loop (started, woken and stopped as every background loop) ------------

    async def start(self) -> None:
        """Start, woken from now on by every commit that queues an SMS (``wake_on_commit``
        registers the listener: a holder is waiting for the code)."""
        if self._wake_on_commit is not None:
            self._stop_listening = self._wake_on_commit(self.wake)
        await super().start()

    async def stop(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        await super().stop()

    async def stopped(self) -> None:
        """Claiming has stopped: let sends under way finish for up to ``stop_grace``
        seconds, then cancel the rest (their rows are claimed again when the lease
        expires)."""
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight), timeout=self._tuning.stop_grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning("outbox worker stopped with %d sends unfinished", len(late))

    async def step(self) -> float:
        """Claim what may be sent now and start sending it; seconds until the next look."""
        pause = self._paused_until - asyncio.get_running_loop().time()
        if pause > 0:
            return pause
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return self._tuning.poll_interval  # a finished send wakes the loop
        claims = await self._queue.claim(self.worker_id, self._clock.now(), self._lease, room)
        for claim in claims:
            task = asyncio.create_task(self._deliver(claim), name=f"outbox {claim.row.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return await self._idle_time() if len(claims) < room else 0.0

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.wake()

    async def _idle_time(self) -> float:
        """Until the next poll, or sooner when a retry comes due before it."""
        poll = self._tuning.poll_interval
        due = await self._queue.next_due()
        if due is None:
            return poll
        return max(_MIN_IDLE, min(poll, (due - self._clock.now()).total_seconds()))

    # --- one row ---------------------------------------------------------------------

    def deadline(self, row: QueuedSms) -> datetime:
        """When ``row`` is no longer worth sending."""
        lifetime = timedelta(seconds=self._tuning.lifetime)
        return row.sms.expires_at or row.created_at + lifetime

    async def _deliver(self, claim: Claim) -> None:
        sms, sending = claim.row.sms, False
        try:
            if self._clock.now() >= self.deadline(claim.row):
                await self._give_up(claim, "expired before it could be sent")
                return
            busy = await self._rate.acquire(within=self._tuning.lease / 2)
            if busy is not None:  # booked out beyond the lease: back, and hold the claims
                await self._queue.put_back(claim, self._clock.now())
                self._hold(busy)
                return
            if self.stopping:
                await self._queue.put_back(claim, self._clock.now())
                return
            try:
                body = self._queue.readable_body(claim.row)  # opened only to send it
            except UnreadableSms as error:
                await self._unreadable(claim, str(error))
                return
            sending = True
            try:
                result = await self._sender.send(sms.to.e164, body)
            except Exception as exc:  # senders answer with results; this one may have sent
                # Its message may quote the number: the type and our line only.
                log.error("outbox %d: the sender raised %s", claim.row.id, describe(exc))
                result = TransientFailure(f"sender raised {type(exc).__name__}")
            await self._record(claim, result)
        except asyncio.CancelledError:
            if not sending:  # never left: give it back now rather than after the lease
                with contextlib.suppress(Exception):
                    await self._queue.put_back(claim, self._clock.now())
            raise
        except Exception:
            log.exception("outbox %d: outcome not recorded; retried after the lease", claim.row.id)

    async def _unreadable(self, claim: Claim, reason: str) -> None:
        """Sealed under another secret key (it was changed or lost since): the text can
        never be recovered, and its code could not be checked anyway. Fail the row,
        which frees the holder to ask again."""
        done = await self._fail(claim, None, reason, self._clock.now())
        log.error(
            "outbox %d: to %s cannot be sent: %s%s",
            claim.row.id,
            masked(claim.row.sms.to.e164),
            reason,
            "" if done else " (and the row was claimed again)",
        )

    async def _give_up(self, claim: Claim, reason: str) -> bool:
        row = claim.row
        text = f"gave up after {row.attempts} attempts: {reason}"
        done = await self._fail(claim, None, text, self._clock.now())
        log.warning("outbox %d: to %s %s", row.id, masked(row.sms.to.e164), text)
        return done

    async def _fail(self, claim: Claim, code: str | None, reason: str, now: datetime) -> bool:
        done = await self._queue.fail(claim, code, reason, now)
        if done and claim.row.sms.notify_to is not None and self._on_failure is not None:
            try:
                self._on_failure()
            except Exception:  # the failure is recorded; the notices' poll is the fallback
                log.exception("outbox %d: failure listener failed", claim.row.id)
        return done

    async def _record(self, claim: Claim, result: SendResult) -> None:
        now, row = self._clock.now(), claim.row
        attempt, who = row.attempts + 1, masked(row.sms.to.e164)
        if isinstance(result, Sent):
            self._resume()
            if await self._queue.mark_sent(claim, result.provider_sid, result.status, now):
                log.info("outbox %d: sent to %s as %s", row.id, who, result.provider_sid)
            else:
                log.warning(
                    "outbox %d: sent as %s after its lease passed to another claim; "
                    "the SMS may be sent twice",
                    row.id,
                    result.provider_sid,
                )
            return
        if isinstance(result, PermanentFailure) and result.config_error:
            await self._queue.put_back(claim, now)
            self._pause(result.reason)
            return
        if isinstance(result, PermanentFailure):
            code = str(result.code) if result.code is not None else None
            done = await self._fail(claim, code, result.reason, now)
            log.warning("outbox %d: to %s failed (%s): %s", row.id, who, code, result.reason)
        else:
            at = self.next_try(row, attempt, result.retry_after, now)
            if at is None:
                reason = f"{result.reason}, and it expires before another try"
                done = await self._fail(
                    claim, None, f"gave up after {attempt} attempts: {reason}", now
                )
                log.warning("outbox %d: to %s gave up after %d attempts", row.id, who, attempt)
            else:
                done = await self._queue.retry_later(claim, at, result.reason, now)
                log.info(
                    "outbox %d: to %s attempt %d failed (%s); retry in %.1fs",
                    row.id,
                    who,
                    attempt,
                    result.reason,
                    (at - now).total_seconds(),
                )
        if not done:
            log.warning("outbox %d: result dropped, the row was claimed again", row.id)

    def next_try(
        self, row: QueuedSms, attempt: int, retry_after: float | None, now: datetime
    ) -> datetime | None:
        """When to try ``row`` again after transient failure number ``attempt``: after
        the backoff, but no later than its last chance (``final_try_margin`` before it
        expires); ``None`` once that last chance has been had."""
        last_chance = self.deadline(row) - timedelta(seconds=self._tuning.final_try_margin)
        if now >= last_chance:
            return None
        return min(now + timedelta(seconds=self.backoff(attempt, retry_after)), last_chance)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: full jitter over an exponential
        ceiling (so many failed rows do not all retry at once), never under the
        provider's ``Retry-After``."""
        return self._retries.delay(attempt, at_least=retry_after)

    def _hold(self, seconds: float) -> None:
        """The send rate is booked further ahead than a lease: claim nothing for
        ``seconds`` (rows claimed now would wait past their lease)."""
        until = asyncio.get_running_loop().time() + seconds
        if until > self._paused_until:
            self._paused_until = until
            log.info("outbox worker: the send rate is booked %.1fs ahead; claiming later", seconds)

    def _pause(self, reason: str) -> None:
        """Our credentials or account are wrong: every send would fail the same way."""
        pause = self._tuning.config_error_pause
        self._paused_until = asyncio.get_running_loop().time() + pause
        if not self._alarm_raised:
            self._alarm_raised = True
            log.error(
                "SMS sending is stopped: %s. Queued SMS are kept; the worker tries again "
                "every %gs until the provider settings are fixed.",
                reason,
                pause,
            )

    def _resume(self) -> None:
        if self._alarm_raised:
            self._alarm_raised = False
            log.warning("SMS sending works again")


def build(app: web.Application, tuning: OutboxTuning | None = None) -> OutboxWorker:
    """The app's :class:`OutboxWorker`, woken by the unit of work after every commit
    that queued an SMS, for as long as it runs."""
    services = app[SERVICES]
    notices = app.get(FAILURE_NOTICES)
    rate = services.config.sms.max_per_second
    return OutboxWorker(
        OutboxQueue(services.engine, services.sealer),
        services.metrics.metered(services.sender),
        services.clock,
        max_per_second=rate,
        send_rate=services.shared_send_rate,
        tuning=tuning or OutboxTuning(lease=services.config.sms.send_lease_seconds),
        on_failure=notices.wake if notices is not None else None,
        wake_on_commit=services.uow.add_outbox_listener,
    )


OUTBOX_WORKER = web.AppKey("outbox_worker", OutboxWorker)
