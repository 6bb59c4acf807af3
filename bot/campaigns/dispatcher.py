"""The campaign dispatcher: a background loop in ``portpass serve`` (:mod:`bot.background`).

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
import logging
from dataclasses import dataclass

from aiohttp import web

from bot.background.loop import BackgroundLoop
from bot.services import SERVICES
from core.campaigns.service import CampaignService
from core.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignTuning:
    """Real-time waits (seconds): production uses the defaults, tests shrink them."""

    poll_interval: float = 1.0
    min_sleep: float = 0.001


class CampaignDispatcher(BackgroundLoop):
    name = "campaign dispatcher"

    def __init__(
        self, service: CampaignService, clock: Clock, tuning: CampaignTuning | None = None
    ) -> None:
        self._tuning = tuning = tuning or CampaignTuning()
        super().__init__(interval=tuning.poll_interval)
        self._service = service
        self._clock = clock
        self._running: list[int] = []
        self._look_again = 0.0  # loop time at which to read the running campaigns again

    async def step(self) -> float:
        """Dispatch every running campaign once; seconds until the next step. Which
        campaigns run is read again every ``poll_interval``, not on every step."""
        tuning, loop = self._tuning, asyncio.get_running_loop()
        if loop.time() >= self._look_again:
            self._running = await self._service.running()
            self._look_again = loop.time() + tuning.poll_interval
        delay = max(tuning.min_sleep, self._look_again - loop.time())
        for campaign_id in list(self._running):
            if self.stopping:
                break
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


def build(app: web.Application, tuning: CampaignTuning | None = None) -> CampaignDispatcher:
    services = app[SERVICES]
    return CampaignDispatcher(services.campaigns, services.clock, tuning)
