"""A background loop in ``portpass serve`` that applies the retention policy every hour
(see :mod:`storage.housekeeping`, ``retention.*`` in the config). Several instances may
all prune: deleting rows that are already gone is harmless."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web

from bot.background.loop import BackgroundLoop
from bot.config import Config
from bot.services import SERVICES, Services
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


class Housekeeping(BackgroundLoop):
    """Prunes what the retention policy no longer allows, every ``interval``; a prune
    that failed is tried again after the loops' backoff, not an hour later."""

    name = "housekeeping"

    def __init__(self, services: Services, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__(interval=interval)
        self._services = services
        self._retention = retention_of(services.config)

    async def step(self) -> None:
        services = self._services
        pruned = await prune(services.engine, services.clock.now(), self._retention)
        # Per-address windows that are over (they hold client addresses).
        if services.shared_hits is not None:
            await services.shared_hits.prune(services.clock.now().timestamp())
        log.info("housekeeping: pruned %s", ", ".join(f"{n} {name}" for name, n in pruned.items()))


def build(app: web.Application) -> Housekeeping:
    return Housekeeping(app[SERVICES])
