"""A real database outage for end-to-end tests: another connection holds SQLite's write
lock, so every transaction of the app fails with "database is locked" (after the
connection's lock timeout, which these tests shorten with ``?timeout=`` in the URL).
The app's reads fail too: every transaction of it begins with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

LOCK_TIMEOUT = 0.2  # seconds the app waits for the lock before its request fails


def database_url(path: Path) -> str:
    return f"sqlite:///{path}?timeout={LOCK_TIMEOUT}"


class WriteLock:
    """SQLite's write lock, held by a second connection of its own."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, timeout=0, isolation_level=None)

    def try_take(self) -> bool:
        try:
            self._conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError:  # the app is writing just now
            return False
        return True

    async def take(self) -> None:
        """Wait for a moment the app holds no lock (its transactions take microseconds)."""
        for _ in range(400):
            if self.try_take():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the app held the database for 2 s")

    def take_now(self) -> None:
        """From inside the app's pool checkout, when nothing else can hold it."""
        assert self.try_take(), "the database was locked already"

    def drop(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self.drop()
        self._conn.close()


@contextlib.asynccontextmanager
async def database_locked(path: Path) -> AsyncIterator[WriteLock]:
    lock = WriteLock(path)
    try:
        await lock.take()
        yield lock
    finally:
        lock.close()


class LockAtCheckout:
    """A pool ``checkout`` listener that takes the lock when a request takes the app's
    connection for the ``take_at``-th time (its ``take_at``-th transaction: each takes
    the connection, begins, commits and gives it back) and drops it again at the
    ``drop_at``-th: an outage that starts and ends between two transactions of one
    request. At checkout the app holds no lock, so taking it cannot wait. ``serving``
    tells the request's transactions from the background workers'
    (:class:`tests.e2e.request_tasks.RequestTasks`)."""

    def __init__(
        self,
        lock: WriteLock,
        serving: Callable[[], bool],
        take_at: int,
        drop_at: int | None = None,
    ) -> None:
        self._lock, self._serving = lock, serving
        self._take_at, self._drop_at = take_at, drop_at
        self.checkouts = 0

    def __call__(self, *_args: Any) -> None:
        if not self._serving():
            return
        self.checkouts += 1
        if self.checkouts == self._take_at:
            self._lock.take_now()
        if self.checkouts == self._drop_at:
            self._lock.drop()
