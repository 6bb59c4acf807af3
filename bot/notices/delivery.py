"""Sends the Telegram messages that notices queue (:mod:`storage.notices.queue`): a
notice to each chat that verified the pass, and the operators' daily digests.

The messages are queued in the same transaction as the notice (by the API, or by
``portpass notices import`` in another process), so nothing is lost if Telegram or this
process is down; this loop (:mod:`bot.background.loop`) sends them when it can. The
API wakes it when it stores notices (it finds it under :data:`NOTICE_MESSENGER`), and it
polls every ``poll_interval`` for rows queued by other processes and retries that come
due. Rows are claimed under a lease, so two instances
never send one row at once; delivery is at least once (a crash between Telegram's
answer and the mark sends the row again).

Failures: a chat that blocked the bot or no longer exists fails the row at once (no
retry will help); anything else (network, Telegram 5xx, flood limits) is retried with
the loops' backoff (:mod:`bot.background.backoff`: full jitter, capped) up to
``max_attempts``. Logs name rows by id, never the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.background.backoff import Backoff
from bot.background.loop import BackgroundLoop
from core.ports import Clock
from storage.notices.queue import MessageClaim, TelegramQueue

log = logging.getLogger(__name__)


class PermanentSendFailure(Exception):
    """The chat cannot receive messages from the bot (blocked, deleted, never started)."""


class TransientSendFailure(Exception):
    """Try again later (network, Telegram errors, flood control)."""


#: ``send(chat_id, text)``: delivers one message or raises one of the two failures.
MessageSender = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class DeliveryTuning:
    poll_interval: float = 2.0
    lease: float = 120.0
    batch: int = 20
    backoff_base: float = 5.0
    backoff_cap: float = 900.0
    max_attempts: int = 10


@dataclass(frozen=True)
class NoticeTuning:
    """What tests may change: the messenger's timings and how often the digest looks."""

    delivery: DeliveryTuning | None = None
    digest_interval: float = 60.0


class NoticeMessenger(BackgroundLoop):
    """Claims due messages and sends them one after another (PTB's rate limiter keeps
    within Telegram's limits)."""

    name = "notice messages"

    def __init__(
        self,
        queue: TelegramQueue,
        send: MessageSender,
        clock: Clock,
        tuning: DeliveryTuning | None = None,
    ) -> None:
        self._tuning = tuning = tuning or DeliveryTuning()
        super().__init__(interval=tuning.poll_interval)
        self._queue = queue
        self._send = send
        self._clock = clock
        self._retries = Backoff(tuning.backoff_base, tuning.backoff_cap)

    async def step(self) -> float:
        await self.deliver_due()
        return await self._idle()

    async def deliver_due(self) -> int:
        """Send every message due now; how many were sent. Tests call this directly."""
        sent = 0
        while True:
            now = self._clock.now()
            lease = timedelta(seconds=self._tuning.lease)
            claims = await self._queue.claim(self.worker_id, now, lease, self._tuning.batch)
            if not claims:
                return sent
            for index, claim in enumerate(claims):
                try:
                    if self.stopping:  # serve stops: the rest go back for the next one
                        await self._put_back(claims[index:])
                        return sent
                    sent += await self._deliver(claim)
                except asyncio.CancelledError:
                    await self._put_back(claims[index:])
                    raise

    async def _put_back(self, claims: list[MessageClaim]) -> None:
        for claim in claims:
            with contextlib.suppress(Exception):
                await self._queue.put_back(claim, self._clock.now())

    async def _deliver(self, claim: MessageClaim) -> int:
        message = claim.message
        try:
            await self._send(message.chat_id, message.text)
        except PermanentSendFailure as error:
            await self._queue.fail(claim, str(error)[:200], self._clock.now())
            log.warning("notice message %d failed for good: %s", message.id, type(error).__name__)
            return 0
        except Exception as error:  # transient, or a surprise: try again later
            attempts = message.attempts + 1
            reason = f"{type(error).__name__}: {str(error)[:200]}"
            if attempts >= self._tuning.max_attempts:
                await self._queue.fail(claim, reason, self._clock.now())
                log.warning("notice message %d failed after %d tries", message.id, attempts)
                return 0
            delay = self._retries.delay(attempts)
            now = self._clock.now()
            await self._queue.retry_later(claim, now + timedelta(seconds=delay), reason, now)
            log.info(
                "notice message %d: try %d failed (%s)", message.id, attempts, type(error).__name__
            )
            return 0
        if not await self._queue.mark_sent(claim, self._clock.now()):
            log.warning("notice message %d: lease lost before it was marked sent", message.id)
        return 1

    async def _idle(self) -> float:
        """Until the next retry comes due, at most ``poll_interval``."""
        poll = self._tuning.poll_interval
        try:
            due = await self._queue.next_due()
        except Exception:
            return poll
        if due is None:
            return poll
        return max(0.01, min(poll, (due - self._clock.now()).total_seconds()))


#: Where the app keeps its messenger (while Telegram is on): the notices API wakes it.
NOTICE_MESSENGER = web.AppKey("notice_messenger", NoticeMessenger)
