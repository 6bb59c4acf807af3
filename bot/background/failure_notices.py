"""Telling the chat that asked when its verification SMS never arrived.

A holder (or an operator) who asked on Telegram was told 「驗證碼已經成功送出!!」; when
the SMS then fails for good (the provider refused the number, or an outage outlasted
the code) or the provider reports it ``undelivered``, they must not wait for ever. The
outbox row keeps ``notify_to`` (the chat) until this loop has told them: at start-up,
every ``interval``, and at once when woken (by the outbox worker after a failure, by
the status callback after an ``undelivered``). The words and the transport belong to
the channel: a :class:`Teller` (the Telegram one is
:mod:`bot.telegram.delivery_notices`) registers itself when its channel starts.
Rows for which no teller is registered simply wait. An SMS holder is never told: there
is no other channel to reach them on, and another SMS would go where the first could
not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from bot.background.loop import BackgroundLoop, describe
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


class FailureNoticeLoop(BackgroundLoop):
    """Tells each failed SMS's chat once; a chat that could not be told now is tried
    again once the claim's lease has passed."""

    name = "failure notices"

    def __init__(self, notices: FailureNotices, clock: Clock, *, interval: float = 30.0) -> None:
        super().__init__(interval=interval)
        self._notices = notices
        self._clock = clock
        self._tellers: list[Teller] = []
        self._one_round = asyncio.Lock()

    def add_teller(self, teller: Teller) -> Callable[[], None]:
        """Register ``teller``; returns a function that removes it again."""
        self._tellers.append(teller)
        self.wake()

        def remove() -> None:
            if teller in self._tellers:
                self._tellers.remove(teller)

        return remove

    async def step(self) -> None:
        await self.run_once()

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
            except Exception as error:  # one teller's bug must not stop the others or the loop
                log.warning("outbox %d: telling the chat failed (%s)", failure.id, describe(error))
        return False


def build(app: web.Application, *, interval: float = 30.0) -> FailureNoticeLoop:
    """The app's :class:`FailureNoticeLoop`, kept under :data:`FAILURE_NOTICES`; it
    starts before the outbox worker, which wakes it, and before the channels' tellers
    register (after the background loops)."""
    services = app[SERVICES]
    return FailureNoticeLoop(FailureNotices(services.engine), services.clock, interval=interval)


FAILURE_NOTICES = web.AppKey("failure_notices", FailureNoticeLoop)
