"""Sends the Telegram messages that notices queue (:mod:`storage.notices.queue`): a
notice to each chat that verified the pass, and the operators' daily digests.

The messages are queued in the same transaction as the notice (by the API, or by
``portpass notices import`` in another process), so nothing is lost if Telegram or this
process is down; this worker sends them when it can. It is woken when the API stores
notices (:class:`Doorbell`) and polls every ``poll_interval`` for rows queued by other
processes and retries that come due. Rows are claimed under a lease, so two instances
never send one row at once; delivery is at least once (a crash between Telegram's
answer and the mark sends the row again).

Failures: a chat that blocked the bot or no longer exists fails the row at once (no
retry will help); anything else (network, Telegram 5xx, flood limits) is retried with
exponential backoff up to ``max_attempts``. Logs name rows by id, never the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from core.ports import Clock
from storage.notices.queue import MessageClaim, TelegramQueue

log = logging.getLogger(__name__)


class PermanentSendFailure(Exception):
    """The chat cannot receive messages from the bot (blocked, deleted, never started)."""


class TransientSendFailure(Exception):
    """Try again later (network, Telegram errors, flood control)."""


#: ``send(chat_id, text)``: delivers one message or raises one of the two failures.
MessageSender = Callable[[str, str], Awaitable[None]]


class Doorbell:
    """Wakes the worker at once when something was queued in this process."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def ring(self) -> None:
        for listener in self._listeners:
            listener()


#: The app's doorbell: the notices API rings it after storing notices.
DOORBELL = web.AppKey("notice_doorbell", Doorbell)


def setup(app: web.Application) -> None:
    app[DOORBELL] = Doorbell()


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


class NoticeMessenger:
    """Claims due messages and sends them one after another (PTB's rate limiter keeps
    within Telegram's limits)."""

    def __init__(
        self,
        queue: TelegramQueue,
        send: MessageSender,
        clock: Clock,
        tuning: DeliveryTuning | None = None,
    ) -> None:
        self._queue = queue
        self._send = send
        self._clock = clock
        self._tuning = tuning or DeliveryTuning()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

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
                    sent += await self._deliver(claim)
                except asyncio.CancelledError:
                    for left in claims[index:]:
                        with contextlib.suppress(Exception):
                            await self._queue.put_back(left, self._clock.now())
                    raise

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
            delay = min(self._tuning.backoff_cap, self._tuning.backoff_base * 2 ** (attempts - 1))
            now = self._clock.now()
            await self._queue.retry_later(claim, now + timedelta(seconds=delay), reason, now)
            log.info(
                "notice message %d: try %d failed (%s)", message.id, attempts, type(error).__name__
            )
            return 0
        if not await self._queue.mark_sent(claim, self._clock.now()):
            log.warning("notice message %d: lease lost before it was marked sent", message.id)
        return 1

    async def run_forever(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: try again at the next poll
                log.warning("notice delivery failed: %s", type(error).__name__)
            self._wakeup.clear()
            idle = await self._idle()  # before the wait exists: a cancel here leaves none
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), idle)

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
