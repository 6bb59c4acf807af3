"""``GET /metrics`` and the middleware that times every request.

The route exists only when ``metrics.enabled`` is true (else 404, like any unknown
path). It answers 200 to a connecting address in ``metrics.allow`` or to a request
bearing ``Authorization: Bearer <metrics.token>``, and 403 to anyone else. A request
that bears a token must bear the right one, from whatever address: a stale token in a
scraper's config should fail loudly, not pass because the scraper happens to run on an
allowed host. The address is the TCP peer's, never a forwarded one, even from a
proxy in ``server.trusted_proxies``; the reverse-proxy snippets in ``deploy/`` do not
pass ``/metrics``, and must not, since behind a proxy every request comes from the
proxy's address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import generate_latest

from bot.config import MetricsConfig
from bot.metrics.database import database_snapshot
from bot.metrics.inbound import INBOUND_ROUTES, begin_note, end_note, outcome
from bot.services import CONFIG, SERVICES
from bot.web.forwarded import ip, tcp_peer

log = logging.getLogger(__name__)

PATH = "/metrics"
#: The classic Prometheus text format, which every Prometheus version reads (our
#: names are all plain ASCII, so it is the same text as the newer 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Access:
    """Who may read the metrics, parsed once from ``[metrics]``."""

    networks: tuple[Network, ...]
    token: bytes  # empty: no token accepted

    @classmethod
    def from_config(cls, config: MetricsConfig) -> Access:
        networks = tuple(ipaddress.ip_network(item) for item in config.allow)
        return cls(networks, config.token.reveal().encode())

    def permits(self, remote: str | None, authorization: str | None) -> bool:
        if authorization is not None:
            scheme, _, given = authorization.strip().partition(" ")
            right = hmac.compare_digest(given.strip().encode(), self.token)
            return bool(self.token) and scheme.lower() == "bearer" and right
        address = ip(remote)
        return address is not None and any(address in network for network in self.networks)


ACCESS = web.AppKey("metrics_access", Access)


def setup(app: web.Application) -> None:
    """Serve ``/metrics`` when ``metrics.enabled``; otherwise add nothing (404)."""
    config = app[CONFIG].metrics
    if not config.enabled:
        return
    app[ACCESS] = Access.from_config(config)
    app.router.add_get(PATH, metrics_page, allow_head=False)


async def metrics_page(request: web.Request) -> web.Response:
    peer = tcp_peer(request)  # never a forwarded address, even from a trusted proxy
    if not request.app[ACCESS].permits(peer, request.headers.get("Authorization")):
        log.warning("metrics refused (403) to %s: address not allowed or wrong token", peer)
        return web.Response(status=403, text="metrics: not allowed from here\n")
    services = request.app[SERVICES]
    snapshot = await database_snapshot(services.engine, services.clock.now())
    body = generate_latest(services.metrics.exposed) + generate_latest(snapshot)
    return web.Response(
        body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"}
    )


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request by its route as declared (``/v/{token}``, never the token),
    and count what became of each inbound message (:mod:`bot.metrics.inbound`)."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else UNMATCHED
    channel = INBOUND_ROUTES.get((request.method, route))
    note, token = begin_note() if channel is not None else (None, None)
    status = 500  # what an exception that is no HTTP answer becomes
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        if token is not None:
            end_note(token)
        services = request.app.get(SERVICES)
        if services is not None:
            services.metrics.request(route, request.method, status, time.perf_counter() - started)
            if channel is not None and note is not None:
                services.metrics.inbound(channel, outcome(channel, status, note))
