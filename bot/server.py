"""``portpass serve``: run the app until interrupted."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import create_app
from bot.config import Config, ServerConfig
from core.sms_preview import segment_warning

log = logging.getLogger(__name__)


def demo_base_url(config: Config, host: str, port: int) -> Config:
    """In demo mode the SMS links must reach this very server: with the default public
    base URL, follow ``--host``/``--port``. A base URL someone set on purpose is kept,
    with a warning when it names a local port other than the one served."""
    default = ServerConfig().public_base_url
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison
    if config.server.public_base_url == default:
        url = f"http://{shown}:{port}"
        return replace(config, server=replace(config.server, public_base_url=url))
    parts = urlsplit(config.server.public_base_url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1", shown)
    if local and (parts.port or 80) != port:
        log.warning(
            "server.public_base_url %s names port %s, but the demo serves port %d: "
            "links in the SMS will not reach it",
            config.server.public_base_url,
            parts.port or 80,
            port,
        )
    return config


async def run_server(
    config: Config, *, host: str | None = None, port: int | None = None, demo: bool = False
) -> None:
    bind_host, bind_port = host or config.server.host, port or config.server.port
    if demo:
        config = demo_base_url(config, bind_host, bind_port)
    warning = segment_warning(config.server.public_base_url, config.sms.signature)
    if warning:
        log.warning("%s", warning)
    app = create_app(config, demo=demo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind_host, bind_port)
    await site.start()
    print(f"PortPass Verify listening on http://{bind_host}:{bind_port}", flush=True)
    if demo:
        print(f"demo: open {config.server.public_base_url}/ to start", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()
