"""The campaign dispatcher: a background task in ``portpass serve``.

It asks :meth:`core.campaigns.service.CampaignService.dispatch` to send what each
running campaign may send now, and sleeps until the earliest moment one may send more:
the pacer's next token, the window's opening, the next reminder, a backlog draining.
Campaigns started from the CLI (another process) are found by a poll every
``poll_interval`` seconds, which also caps every sleep, so a pause or a cancel takes
effect within it. Every instance may run one: the campaign row's lock and its shared
pacing keep them from sending a pass twice or the campaign faster than its rate.

The SMS themselves go out through the outbox worker, which sends a holder's own code,
a notice or a reply before campaign traffic and never exceeds ``sms.max_per_second``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot.services import SERVICES
from core.campaigns.service import CampaignService
from core.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignTuning:
    """Real-time waits (seconds): production uses the defaults, tests shrink them."""

    poll_interval: float = 1.0
    min_sleep: float = 0.001
    error_pause: float = 5.0


class CampaignDispatcher:
    def __init__(
        self, service: CampaignService, clock: Clock, tuning: CampaignTuning | None = None
    ) -> None:
        self._service = service
        self._clock = clock
        self._tuning = tuning or CampaignTuning()
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: list[int] = []
        self._look_again = 0.0  # loop time at which to read the running campaigns again

    def wake(self) -> None:
        """Look at the campaigns now (a campaign was started in this process)."""
        self._look_again = 0.0
        self._wakeup.set()

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the campaign dispatcher is already running")
        self._task = asyncio.create_task(self._run(), name="campaign-dispatcher")

    async def stop(self) -> None:
        """Stop after the dispatch under way (its transaction commits or rolls back)."""
        self._stop.set()
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = await self.step()
            except Exception as error:  # a database hiccup must not end the dispatcher
                log.warning("campaign dispatch failed: %s", type(error).__name__)
                log.debug("campaign dispatch failed", exc_info=True)
                delay = self._tuning.error_pause
            self._wakeup.clear()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)

    async def step(self) -> float:
        """Dispatch every running campaign once; seconds until the next step. Which
        campaigns run is read again every ``poll_interval``, not on every step."""
        tuning, loop = self._tuning, asyncio.get_running_loop()
        if loop.time() >= self._look_again:
            self._running = await self._service.running()
            self._look_again = loop.time() + tuning.poll_interval
        delay = max(tuning.min_sleep, self._look_again - loop.time())
        for campaign_id in list(self._running):
            result = await self._service.dispatch(campaign_id)
            if result.sent or result.skipped:
                log.debug(
                    "campaign %d: %d sent, %d skipped", campaign_id, result.sent, result.skipped
                )
            if result.wait_until is None:  # paused, cancelled or done: until it runs again
                self._running.remove(campaign_id)
                if result.why == "done":
                    log.info("campaign %d: done", campaign_id)
                continue
            wait = (result.wait_until - self._clock.now()).total_seconds()
            delay = min(delay, max(tuning.min_sleep, wait))
        return delay


def setup(app: web.Application, tuning: CampaignTuning | None = None) -> None:
    """Run a :class:`CampaignDispatcher` for the app's lifetime."""

    async def run_dispatcher(app: web.Application) -> AsyncIterator[None]:
        services = app[SERVICES]
        dispatcher = CampaignDispatcher(services.campaigns, services.clock, tuning)
        app[CAMPAIGN_DISPATCHER] = dispatcher
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()

    app.cleanup_ctx.append(run_dispatcher)


CAMPAIGN_DISPATCHER = web.AppKey("campaign_dispatcher", CampaignDispatcher)
