"""The link page behind a reverse proxy (``server.trusted_proxies``): each holder has
their own per-address limit, not one bucket for everyone the proxy forwards, and a
client cannot escape its limit, nor reach ``/metrics``, by writing the header itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.config import load_config
from bot.web.link_page import LINK_REQUESTS_PER_MINUTE
from tests.e2e.conftest import AppClient

MakeClient = Callable[..., Awaitable[AppClient]]
MISSING = "/v/AAAAAAAAAAAA"  # a well-formed token nobody was given: 404, but counted


def behind(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": client}


async def app(
    make_client: MakeClient, env: dict[str, str], tmp_path: Path, **extra: str
) -> AppClient:
    return await make_client(load_config(None, {**env, **extra}, cwd=tmp_path))


async def test_each_client_behind_the_proxy_has_its_own_limit(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await app(
        make_client, config_env, tmp_path, PORTPASS_SERVER_TRUSTED_PROXIES="127.0.0.1,::1"
    )
    for _ in range(LINK_REQUESTS_PER_MINUTE):
        assert (await client.get(MISSING, headers=behind("203.0.113.5"))).status == 404
    assert (await client.get(MISSING, headers=behind("203.0.113.5"))).status == 429
    # Another holder through the same proxy is not held back by the first.
    assert (await client.get(MISSING, headers=behind("203.0.113.6"))).status == 404
    # The first one writing a header of its own changes nothing: nginx appends its peer.
    spoofed = behind("198.51.100.1, 203.0.113.5")
    assert (await client.get(MISSING, headers=spoofed)).status == 429


async def test_ipv6_clients_are_limited_by_their_64_prefix_on_the_link_page(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    """A phone or a virtual server owns a whole /64: 25 of its addresses are one client
    and get the one client's 20 requests a minute; the next /64 is someone else."""
    client = await app(
        make_client, config_env, tmp_path, PORTPASS_SERVER_TRUSTED_PROXIES="127.0.0.1,::1"
    )

    async def status(n: int) -> int:
        return (await client.get(MISSING, headers=behind(f"2001:db8:1:2::{n:x}"))).status

    # At once: the bucket refills one request every 3 s, more than 25 requests in a
    # row may take on a loaded machine.
    answers = await asyncio.gather(*(status(n) for n in range(1, 26)))
    limit = LINK_REQUESTS_PER_MINUTE
    assert sorted(answers) == [404] * limit + [429] * (25 - limit)
    assert (await client.get(MISSING, headers=behind("2001:db8:1:3::1"))).status == 404


async def test_without_trusted_proxies_the_header_buys_nothing(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await app(make_client, config_env, tmp_path)
    for n in range(LINK_REQUESTS_PER_MINUTE):
        assert (await client.get(MISSING, headers=behind(f"203.0.113.{n}"))).status == 404
    assert (await client.get(MISSING, headers=behind("198.51.100.99"))).status == 429


async def test_metrics_check_the_connection_not_the_forwarded_client(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await app(
        make_client,
        config_env,
        tmp_path,
        PORTPASS_SERVER_TRUSTED_PROXIES="127.0.0.1",
        PORTPASS_METRICS_ENABLED="true",
        PORTPASS_METRICS_ALLOW="203.0.113.0/24",
    )
    # A client claiming an allowed address through the proxy is still the proxy's peer.
    assert (await client.get("/metrics", headers=behind("203.0.113.5"))).status == 403
