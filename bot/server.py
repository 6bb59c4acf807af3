"""``portpass serve``: run the app until interrupted."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.app import create_app
from bot.config import Config
from core.sms_preview import segment_warning

log = logging.getLogger(__name__)


async def run_server(
    config: Config, *, host: str | None = None, port: int | None = None, demo: bool = False
) -> None:
    warning = segment_warning(config.server.public_base_url)
    if warning:
        log.warning("%s", warning)
    app = create_app(config, demo=demo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    bind_host, bind_port = host or config.server.host, port or config.server.port
    site = web.TCPSite(runner, bind_host, bind_port)
    await site.start()
    print(f"PortPass Verify listening on http://{bind_host}:{bind_port}", flush=True)
    if demo:
        print(f"demo: open http://{bind_host}:{bind_port}/dev/inbox to see sent SMS", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()
