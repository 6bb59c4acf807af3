"""A background task in ``portpass serve`` that applies the retention policy every hour
(see :mod:`storage.housekeeping`, ``retention.*`` in the config). Several instances may
all prune: deleting rows that are already gone is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from bot.config import Config
from bot.services import SERVICES, Services
from storage.client_hits import SharedHitCounter
from storage.housekeeping import Retention, prune

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0


def retention_of(config: Config) -> Retention:
    r = config.retention
    return Retention(
        verification_requests=timedelta(days=r.verification_requests_days),
        outbox=timedelta(days=r.outbox_days),
        conversations=timedelta(days=r.conversations_days),
        inbound_messages=timedelta(days=r.inbound_messages_days),
        lookup_failures=timedelta(days=r.lookup_failures_days),
        audit_log=timedelta(days=r.audit_log_days),
        phone_languages=timedelta(days=r.phone_languages_days),
    )


async def run_forever(services: Services, interval: float = INTERVAL_SECONDS) -> None:
    retention = retention_of(services.config)
    while True:
        try:
            pruned = await prune(services.engine, services.clock.now(), retention)
            # The link page's windows that are over (they hold client addresses).
            await SharedHitCounter(services.engine).prune(services.clock.now().timestamp())
            log.info(
                "housekeeping: pruned %s",
                ", ".join(f"{n} {name}" for name, n in pruned.items()),
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
