"""Binds the SMPP sender when the app starts, hands it the deliveries handler and the
metrics collector, and unbinds when the app stops (after the outbox worker stopped)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from bot.providers.smpp.sender import SmppSender
from bot.services import SERVICES
from bot.sms.smpp.deliveries import SmscDeliveries
from bot.sms.smpp.link_state import SMSC_DELIVERIES, SmppCollector


def setup(app: web.Application) -> None:
    """With an SMPP sender: bind at start, take its deliveries, unbind at stop."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        sender = app[SERVICES].sender
        if not isinstance(sender, SmppSender):
            yield
            return
        deliveries = SmscDeliveries(app, sender)
        app[SMSC_DELIVERIES] = deliveries
        sender.deliveries = deliveries
        collector = SmppCollector(sender)
        registry = app[SERVICES].metrics.registry
        registry.register(collector)
        sender.start()
        try:
            yield
        finally:
            registry.unregister(collector)
            sender.deliveries = None
            await deliveries.stop()
            await sender.close()

    app.cleanup_ctx.append(run)
