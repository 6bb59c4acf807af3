"""The web app: the one place the aiohttp application is built.

``create_app(config)`` is used by ``portpass serve`` and by the tests (which pass a
fake clock, a seeded secret source or a sender of their own in ``overrides``). The
services come from the composition root (:mod:`bot.bootstrap`), opened in
``cleanup_ctx`` at start and closed at stop, never at import; each channel module
registers its own routes; the background loops run in the one order
:func:`background_jobs` writes down.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import text

from bot.api import notices as notices_api
from bot.background import failure_notices, housekeeping, jobs
from bot.background.failure_notices import FAILURE_NOTICES
from bot.background.jobs import Job
from bot.bootstrap import Overrides, close_services, open_services
from bot.campaigns import dispatcher as campaign_dispatcher
from bot.config import Config
from bot.logs import log_context
from bot.metrics import http as metrics_http
from bot.notices.delivery import NOTICE_MESSENGER
from bot.services import CONFIG, SERVICES, WORKER, Worker
from bot.sms import inbound as sms_inbound
from bot.sms import outbox_worker
from bot.sms import signature as sms_signature
from bot.sms import status as sms_status
from bot.sms.outbox_worker import OUTBOX_WORKER
from bot.sms.smpp import link_state as smpp_state
from bot.sms.smpp import wiring as smpp_wiring
from bot.telegram import channel as telegram_channel
from bot.telegram import delivery_notices as telegram_delivery_notices
from bot.telegram import notices as telegram_notices
from bot.telegram.operator import wiring as telegram_operator
from bot.web import dev_inbox, forwarded, link_page
from bot.web.verify_form import routes as verify_form

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
#: An id a proxy in front may have given the request: kept if it looks like one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def create_app(
    config: Config,
    *,
    demo: bool = False,
    overrides: Overrides | None = None,
    worker: Worker | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=config.server.max_body_bytes,
        middlewares=[metrics_http.observe, request_ids],
    )
    if config.server.trusted_proxies:
        trusted = forwarded.networks(config.server.trusted_proxies)
        app.middlewares.append(forwarded.middleware(trusted))
    app[CONFIG] = config
    app[WORKER] = worker or Worker()

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        services = await open_services(config, demo=demo, overrides=overrides)
        app[SERVICES] = services
        yield
        await close_services(services)

    app.cleanup_ctx.append(services_ctx)
    app.router.add_get("/healthz", healthz)
    sms_signature.setup(app)  # checks the webhooks of the two routes below
    sms_status.setup(app)
    sms_inbound.setup(app)
    # Binds before the background loops start; unbinds after the outbox worker stopped.
    smpp_wiring.setup(app)
    telegram_channel.setup(app)
    telegram_operator.setup(app)  # its handlers join telegram_channel's application
    # After Telegram has started (its loops send with its application), before anything
    # that looks a loop up at start-up; stopped before Telegram stops.
    jobs.run(app, background_jobs(overrides or Overrides()))
    notices_api.setup(app)
    telegram_delivery_notices.setup(app)  # registers its teller with the failure notices
    link_page.setup(app)
    verify_form.setup(app)
    dev_inbox.setup(app)
    metrics_http.setup(app)
    return app


def background_jobs(overrides: Overrides) -> list[Job[Any]]:
    """The background loops of ``portpass serve``, in the order they start; they stop in
    the reverse order. Each one comes before those that wake it or read what it does."""
    return [
        # First: the outbox worker and the status callback wake it.
        Job(failure_notices.build, FAILURE_NOTICES),
        Job(partial(outbox_worker.build, tuning=overrides.outbox), OUTBOX_WORKER),
        # Queues SMS for the outbox worker.
        Job(partial(campaign_dispatcher.build, tuning=overrides.campaigns)),
        # Telegram's (None without it); the digest wakes the messenger.
        Job(telegram_notices.messenger, NOTICE_MESSENGER),
        Job(telegram_notices.digest),
        Job(housekeeping.build),
    ]


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database reachability, for a load balancer or an orchestrator."""
    services = request.app[SERVICES]
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # the answer is the health, whatever broke
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    smpp = smpp_state.health(request.app)
    return web.json_response({"status": "ok", "database": "ok", **({"smpp": smpp} if smpp else {})})


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every log line written while a request is handled names it (``request_id``), and
    the response carries the id back, so one request can be followed from the proxy's
    log to ours. A proxy's ``X-Request-Id`` is reused; otherwise one is made."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    with log_context(request_id=request_id):
        try:
            response = await handler(request)
        except web.HTTPException as error:
            error.headers[REQUEST_ID_HEADER] = request_id
            raise
    response.headers[REQUEST_ID_HEADER] = request_id
    return response
