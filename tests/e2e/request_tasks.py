"""Which asyncio tasks are serving an HTTP request right now.

A middleware notes each request's task, so a database event listener can tell the
transactions a request makes from those of the outbox worker and housekeeping, which
run beside it in the same process and engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            return await handler(request)
        finally:
            self._tasks.discard(task)

    def serving(self) -> bool:
        """Whether the code running now serves a request (call from a sync listener:
        SQLAlchemy runs it in the task that executes the statement)."""
        return asyncio.current_task() in self._tasks
