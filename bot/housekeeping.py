"""A background task in ``portpass serve`` that prunes short-lived logs every hour
(see :mod:`storage.housekeeping`). Several instances may all prune: deleting rows that
are already gone is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.services import SERVICES, Services
from storage.housekeeping import prune

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0


async def run_forever(services: Services, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            pruned = await prune(services.engine, services.clock.now())
            log.info(
                "housekeeping: pruned %d inbound ids, %d failed lookups",
                pruned.inbound_messages,
                pruned.lookup_failures,
            )
        except Exception as error:  # try again next hour; never take the server down
            log.warning("housekeeping failed: %s", type(error).__name__)
        await asyncio.sleep(interval)


def setup(app: web.Application) -> None:
    async def housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run_forever(app[SERVICES]), name="portpass-housekeeping")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(housekeeping_ctx)
