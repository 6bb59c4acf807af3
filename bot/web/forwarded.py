"""The client's address behind a reverse proxy (``server.trusted_proxies``).

Behind nginx or Caddy every connection comes from the proxy, so the link page's
per-address limit (and the failed-lookup cool-down it keys on the address) would put
every holder in one bucket: twenty page views a minute for the whole port. The proxy
names the client in ``X-Forwarded-For``; any client can send that header too, so it is
believed only from a configured proxy, and then read from the right: each proxy appends
the address it saw, so the rightmost address that is not one of our proxies is the
first one no proxy of ours can vouch for, the client. Whatever a client wrote further
left is never read.

Hand-written rather than ``aiohttp-remotes``: its strict mode wants the exact chain of
proxies per hop and answers 400 to anything else, its relaxed mode believes the header
from anyone; this rule (rightmost untrusted, as nginx's ``real_ip_recursive``) is a loop.

``/metrics`` keeps checking the TCP peer (:mod:`bot.metrics.http`), never this.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

HEADER = "X-Forwarded-For"


def networks(items: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item) for item in items)


def ip(text: str | None) -> Address | None:
    """An address as written; an IPv4 peer of a dual-stack socket (``::ffff:127.0.0.1``)
    as the IPv4 address it is; ``None`` for anything else."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(
    peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]
) -> str | None:
    """The client, from the TCP ``peer`` and the ``X-Forwarded-For`` header values.

    The peer itself unless it is a trusted proxy; else the rightmost forwarded address
    that is not a trusted proxy. A hop that is no address (``unknown``, a port, garbage)
    ends the walk at the last address trusted so far: nothing left of it is believed.
    """
    address = ip(peer)
    if address is None or not _trusted(address, trusted):
        return peer
    hops = [hop for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        hop_address = ip(hop)
        if hop_address is None:
            return str(address)
        address = hop_address
        if not _trusted(address, trusted):
            return str(address)
    return str(address)  # every hop a proxy of ours: the leftmost is the client


def tcp_peer(request: web.Request) -> str | None:
    """The connection's own peer, whatever this module made of ``request.remote``."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


def middleware(trusted: Sequence[Network]) -> Middleware:
    """``request.remote`` becomes the client for every handler after this one."""

    @web.middleware
    async def real_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(request.remote, request.headers.getall(HEADER, []), trusted)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return real_client
