"""Running serve's background loops for the app's lifetime, in one given order.

:func:`run` takes the list of :class:`Job` that :func:`bot.app.background_jobs` writes
down: each job builds its loop for this app (or ``None`` when the configuration has no
use for it: no Telegram, no digest time), the loops start in the list's order, and
stop in the reverse order when the app stops. One ``cleanup_ctx`` holds them all, so
the order is the list, not the order in which modules happened to register.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web

from bot.background.loop import BackgroundLoop

L = TypeVar("L", bound=BackgroundLoop)


@dataclass(frozen=True)
class Job(Generic[L]):
    """One loop of serve: how it is built for an app, and the key it is kept under
    (for handlers that wake it and tests that drive it; ``None``: nobody looks it up)."""

    build: Callable[[web.Application], L | None]
    key: web.AppKey[L] | None = None


def run(app: web.Application, jobs: Sequence[Job[Any]]) -> None:
    """Start ``jobs``' loops in order when the app starts; stop them in reverse."""

    async def background(app: web.Application) -> AsyncIterator[None]:
        started: list[BackgroundLoop] = []
        try:
            for job in jobs:
                loop = job.build(app)
                if loop is None:
                    continue
                if job.key is not None:
                    app[job.key] = loop
                await loop.start()
                started.append(loop)
            yield
        finally:
            for loop in reversed(started):
                await loop.stop()

    app.cleanup_ctx.append(background)
