"""The operators' daily digest in ``portpass serve``: a loop that asks
:class:`core.notices.digest.DigestService` once a minute whether a digest is due, and
wakes the Telegram messenger when it queued one. Which day is due, what a digest
covers and the once-a-day guarantee live in core and storage; this is only the clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.notices.digest import DigestOutcome, DigestService

log = logging.getLogger(__name__)

CHECK_INTERVAL = 60.0


async def run_once(digests: DigestService, wake: Callable[[], None]) -> DigestOutcome:
    outcome = await digests.run()
    if outcome.queued:
        log.info("daily notice digest of %s queued for %d operators", outcome.day, outcome.queued)
        wake()
    return outcome


async def run_forever(
    digests: DigestService, wake: Callable[[], None], interval: float = CHECK_INTERVAL
) -> None:
    while True:
        try:
            await run_once(digests, wake)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # try again at the next check; never take serve down
            log.warning("notice digest failed: %s", type(error).__name__)
        await asyncio.sleep(interval)
