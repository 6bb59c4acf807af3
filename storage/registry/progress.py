"""How far an import is, told to whoever asks, from wherever the import is running.

The import checks the file in a worker thread, merges into SQLite in another (or, for an
in-memory database, inside SQLAlchemy's greenlet), and into PostgreSQL on the event
loop; the caller's progress hook is a coroutine function on the event loop.
:class:`ProgressRelay` calls it from each of those places and waits for it, so a hook
(a progress bar, or a test acting between two batches) sees the import stand still
until it returns.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy.util.concurrency import await_

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ImportProgress:
    """How far an import is: ``done`` of ``total`` bytes of the file checked ("read"),
    then ``done`` of ``total`` accepted rows written ("merge"), or, for a dry run or a
    refused file, compared with the registry without writing ("compare")."""

    stage: Literal["read", "compare", "merge"]
    done: int
    total: int


ProgressHook = Callable[[ImportProgress], Coroutine[Any, Any, None]]


class ProgressRelay:
    """The caller's progress hook, for each place the import runs: awaited on the event
    loop, and waited for from a worker thread or from SQLAlchemy's greenlet, so the
    import goes on only once the hook is done. Silent once the import is stopping."""

    def __init__(self, hook: ProgressHook | None, stop: threading.Event) -> None:
        self._hook = hook
        self._stop = stop
        self._loop = asyncio.get_running_loop()

    async def report(self, state: ImportProgress) -> None:
        if self._hook is not None and not self._stop.is_set():
            await self._hook(state)

    def from_thread(self, state: ImportProgress) -> None:
        if self._hook is not None and not self._stop.is_set():
            asyncio.run_coroutine_threadsafe(self._hook(state), self._loop).result()

    def from_greenlet(self, state: ImportProgress) -> None:
        await_(self.report(state))


async def in_thread(work: Callable[[], _T], stop: threading.Event) -> _T:
    """Run ``work`` in a worker thread; if the import is cancelled meanwhile, tell the
    work to stop (at the next batch) and wait for it, so no thread is left writing."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([task])
        raise
