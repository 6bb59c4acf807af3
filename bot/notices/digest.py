"""The operators' daily digest in ``portpass serve``: a loop that asks
:class:`core.notices.digest.DigestService` once a minute whether a digest is due, and
wakes the Telegram messenger when it queued one. Which day is due, what a digest
covers and the once-a-day guarantee live in core and storage; this is only the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.background.loop import BackgroundLoop
from core.notices.digest import DigestOutcome, DigestService

log = logging.getLogger(__name__)

CHECK_INTERVAL = 60.0


async def run_once(digests: DigestService, wake: Callable[[], None]) -> DigestOutcome:
    outcome = await digests.run()
    if outcome.queued:
        log.info("daily notice digest of %s queued for %d operators", outcome.day, outcome.queued)
        wake()
    return outcome


class DigestLoop(BackgroundLoop):
    """Runs :func:`run_once` every ``interval``; ``wake`` wakes the messenger."""

    name = "notice digest"

    def __init__(
        self, digests: DigestService, wake: Callable[[], None], interval: float = CHECK_INTERVAL
    ) -> None:
        super().__init__(interval=interval)
        self._digests = digests
        self._wake_messenger = wake

    async def step(self) -> None:
        await run_once(self._digests, self._wake_messenger)
