"""Telling the chat that asked when its verification SMS never arrived.

A holder (or an operator) who asked on Telegram was told 「驗證碼已經成功送出!!」; when
the SMS then fails for good (the provider refused the number, or an outage outlasted
the code) or the provider reports it ``undelivered``, they must not wait for ever. The
outbox row keeps ``notify_to`` (the chat) until this loop has told them: at start-up,
every ``interval``, and at once when poked (by the outbox worker after a failure, by
the status callback after an ``undelivered``). The words and the transport belong to
the channel: a :class:`Teller` (the Telegram one is
:mod:`bot.telegram.delivery_notices`) registers itself when its channel starts.
Rows for which no teller is registered simply wait. An SMS holder is never told: there
is no other channel to reach them on, and another SMS would go where the first could
not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from aiohttp import web

from bot.services import SERVICES
from core.ports import Clock
from storage.outbox.failures import FailedSms, FailureNotices

log = logging.getLogger(__name__)


class Teller(Protocol):
    """A channel that can tell a ``notify_to`` participant about a failed SMS."""

    async def tell(self, failure: FailedSms) -> bool:
        """``True``: told, or nobody left to tell (the chat blocked the bot, the
        operator was unlinked); ``False``: not now, try again later."""
        ...


class FailureNoticeLoop:
    """Tells each failed SMS's chat once; a chat that could not be told now is tried
    again once the claim's lease has passed."""

    def __init__(self, notices: FailureNotices, clock: Clock, *, interval: float = 30.0) -> None:
        self._notices = notices
        self._clock = clock
        self._interval = interval
        self._tellers: list[Teller] = []
        self._poked = asyncio.Event()
        self._one_round = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_teller(self, teller: Teller) -> Callable[[], None]:
        """Register ``teller``; returns a function that removes it again."""
        self._tellers.append(teller)
        self.poke()

        def remove() -> None:
            if teller in self._tellers:
                self._tellers.remove(teller)

        return remove

    def poke(self) -> None:
        """Look for failures to tell now."""
        self._poked.set()

    async def run_once(self) -> int:
        """Tell what can be told now; how many were done. One round at a time in this
        process: two overlapping rounds would both find, and tell, the same row."""
        async with self._one_round:
            if not self._tellers:
                return 0
            done = 0
            for failure in await self._notices.due(self._clock.now()):
                if not await self._notices.claim(failure.id, self._clock.now()):
                    continue  # another instance is telling this chat
                if await self._tell(failure):
                    await self._notices.told(failure.id, self._clock.now())
                    done += 1
            return done

    async def _tell(self, failure: FailedSms) -> bool:
        for teller in list(self._tellers):
            try:
                if await teller.tell(failure):
                    return True
            except Exception:  # one teller's bug must not stop the others or the loop
                log.exception("outbox %d: telling the chat failed", failure.id)
        return False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms failure notices")

    async def stop(self) -> None:
        self._stop.set()
        self._poked.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._poked.clear()
            try:
                await self.run_once()
            except Exception:  # a database hiccup: the next round tries again
                log.exception("failure notices: reading the outbox failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self._interval)


def setup(app: web.Application, *, interval: float = 30.0) -> None:
    """Run a :class:`FailureNoticeLoop` for the app's lifetime, under
    :data:`FAILURE_NOTICES`; register it before the outbox worker and the channels,
    whose start-up looks it up."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        loop = FailureNoticeLoop(FailureNotices(services.engine), services.clock, interval=interval)
        app[FAILURE_NOTICES] = loop
        await loop.start()
        try:
            yield
        finally:
            await loop.stop()

    app.cleanup_ctx.append(run)


FAILURE_NOTICES = web.AppKey("failure_notices", FailureNoticeLoop)
