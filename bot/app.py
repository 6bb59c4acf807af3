"""The web app: the one place the aiohttp application is built.

``create_app(config)`` is used by ``portpass serve`` and by the tests (which pass a
fake clock, a seeded secret source or a sender of their own in ``overrides``). The
services come from the composition root (:mod:`bot.bootstrap`), opened in
``cleanup_ctx`` at start and closed at stop, never at import; each channel module
registers its own routes and background tasks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import text

from bot import housekeeping
from bot.bootstrap import Overrides, close_services, open_services
from bot.config import Config
from bot.services import CONFIG, SERVICES
from bot.sms import inbound as sms_inbound
from bot.sms import outbox_worker
from bot.sms import status as sms_status
from bot.telegram import channel as telegram_channel
from bot.telegram.operator import wiring as telegram_operator
from bot.web import dev_inbox, link_page

log = logging.getLogger(__name__)


def create_app(
    config: Config, *, demo: bool = False, overrides: Overrides | None = None
) -> web.Application:
    app = web.Application(client_max_size=config.server.max_body_bytes)
    app[CONFIG] = config

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        services = await open_services(config, demo=demo, overrides=overrides)
        app[SERVICES] = services
        yield
        await close_services(services)

    app.cleanup_ctx.append(services_ctx)
    app.router.add_get("/healthz", healthz)
    outbox_worker.setup(app, (overrides or Overrides()).outbox)
    sms_status.setup(app)
    sms_inbound.setup(app)
    telegram_channel.setup(app)
    telegram_operator.setup(app)  # its handlers join telegram_channel's application
    link_page.setup(app)
    dev_inbox.setup(app)
    housekeeping.setup(app)
    return app


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database reachability, for a load balancer or an orchestrator."""
    services = request.app[SERVICES]
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # the answer is the health, whatever broke
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
