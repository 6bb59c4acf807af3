"""``portpass serve``: run the app until interrupted."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from dataclasses import replace
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import create_app
from bot.config import Config, ServerConfig
from bot.services import Worker
from core.verification.sms_preview import segment_warning

log = logging.getLogger(__name__)


def served_base_url(config: Config, host: str, port: int) -> Config:
    """A public base URL left at its default follows ``--host``/``--port`` (or
    ``PORTPASS_SERVER_PORT``): the links in the SMS, and the URL Twilio's signatures
    are checked over, are then this server's own address, which ``portpass chat`` signs
    for. A base URL someone set on purpose is kept."""
    if config.server.public_base_url != ServerConfig().public_base_url:
        return config
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison
    url = f"http://{shown}:{port}"
    return replace(config, server=replace(config.server, public_base_url=url))


def demo_base_url(config: Config, host: str, port: int) -> Config:
    """In demo mode the SMS links must reach this very server: :func:`served_base_url`,
    and a base URL set on purpose gets a warning when it names a local port other than
    the one served."""
    if config.server.public_base_url == ServerConfig().public_base_url:
        return served_base_url(config, host, port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison
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
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    demo: bool = False,
    listen_fd: int | None = None,
    worker: Worker | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM. With ``listen_fd`` (a worker of ``--workers``) the
    socket is the parent's, already bound and listening, shared by every worker."""
    bind_host, bind_port = host or config.server.host, port or config.server.port
    worker = worker or Worker()
    if demo:
        config = demo_base_url(config, bind_host, bind_port)
    else:
        config = served_base_url(config, bind_host, bind_port)
    warning = segment_warning(config.server.public_base_url, config.sms_wording)
    if warning and worker.leader:
        log.warning("%s", warning)
    app = create_app(config, demo=demo, worker=worker)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site: web.BaseSite
    if listen_fd is None:
        site = web.TCPSite(runner, bind_host, bind_port)
    else:
        site = web.SockSite(runner, socket.socket(fileno=listen_fd))
    await site.start()
    if listen_fd is None:
        print(f"PortPass Verify listening on http://{bind_host}:{bind_port}", flush=True)
    if demo and worker.leader:
        print(f"demo: open {config.server.public_base_url}/ to start", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    orphaned = None if listen_fd is None else asyncio.create_task(stop_when_orphaned(stop))
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        if orphaned is not None:
            orphaned.cancel()
        await runner.cleanup()


async def stop_when_orphaned(stop: asyncio.Event, interval: float = 1.0) -> None:
    """A worker of ``--workers`` stops when its parent is gone (killed with SIGKILL, say,
    so it could pass nothing on): a worker left behind would keep the port, poll
    Telegram or send SMS with no supervisor to stop it."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - another process, no event to await
        await asyncio.sleep(interval)
    log.warning("the serve --workers parent is gone: stopping")
    stop.set()
