"""SQLite for ``AsyncEngine``, with each statement run inline on the event loop thread.

``sqlite+portpass_inline:///file.db`` is an asyncio dialect (registered by
:mod:`storage.db`): ``create_async_engine`` gives a genuine ``AsyncEngine``, and the
SQLAlchemy Core code, Alembic's ``run_sync`` and the pool work as with aiosqlite. The
difference is underneath. aiosqlite runs every call (cursor, execute, fetch, close) in
a worker thread and wakes the event loop when it is done; with a handful of statements
per request those hand-offs, not SQLite, were the cost. Here the DBAPI connection is
the standard library's ``sqlite3.Connection``, called directly from SQLAlchemy's
greenlet: a statement costs what SQLite costs, microseconds.

**The trade-off: a statement blocks the event loop while it runs.** That is acceptable
because of how this project uses SQLite, and only then:

* statements are short, indexed look-ups and writes (WAL, ``synchronous=NORMAL``: no
  fsync per commit). A statement that scans a large table would stall every request
  for as long as it runs; batch work (``portpass import``) runs in its own process;
* within one process, connections are serialised by the pool (:mod:`storage.db` gives
  a SQLite file one connection), and waiting for the pool is an asyncio wait;
* waiting for *another* connection's lock (a second process such as ``portpass
  import``, or a second engine on the same file) never sleeps on the loop. SQLite's own
  busy handler would (it sleeps in the calling thread), so it is switched off
  (``busy_timeout`` 0), and a statement that finds the database locked is retried after
  an ``asyncio.sleep`` instead: 1 ms, then longer, up to 100 ms between tries, until the
  connection's ``timeout`` (seconds, as for ``sqlite3.connect``; :mod:`storage.db` sets
  5) has passed. Then the ``database is locked`` error surfaces as SQLAlchemy's
  ``OperationalError``, like any other database error.

Only statements that are safe to repeat are retried, as SQLite's documentation says:
one that found the connection outside a transaction (``BEGIN IMMEDIATE``, which
:mod:`storage.db` issues first in every transaction, and PRAGMAs), and ``COMMIT``.
Inside a ``BEGIN IMMEDIATE`` transaction the write lock is already held, so WAL gives
no busy error there; should one occur it is raised at once, unretried, and so is one
from ``executemany`` outside a transaction (part of it may have been applied). Outside
SQLAlchemy's asyncio layer (no greenlet to wait in), a locked database fails at once.

Rows are fetched when a statement runs, as aiosqlite and asyncpg do, so a result can be
read after its connection has gone back to the pool; ``AsyncConnection.stream()`` gets
a cursor that fetches as it is read.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Self, TypeVar

from sqlalchemy import Executable, pool
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_, in_greenlet

DRIVER = "portpass_inline"
DEFAULT_LOCK_TIMEOUT = 5.0  # seconds, sqlite3.connect's default
_BACKOFF = (0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.025, 0.025, 0.05, 0.05, 0.1)

_T = TypeVar("_T")


class _Ready:
    """An awaitable that is done at once: awaiting it never reaches the event loop."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


_READY = _Ready()


def _checkpoint() -> None:
    # SQLAlchemy's AsyncConnection.execute insists that the driver awaited something
    # (AwaitRequired otherwise): a switch to the greenlet's parent and straight back.
    if in_greenlet():
        await_(_READY)


def _retry_while_locked(statement: Callable[[], _T], lock_timeout: float) -> _T:
    """Run ``statement``; while SQLite answers SQLITE_BUSY, wait on the loop and retry."""
    deadline: float | None = None
    tries = 0
    while True:
        try:
            return statement()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or not in_greenlet():
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + lock_timeout
            if now >= deadline:
                raise
            delay = _BACKOFF[min(tries, len(_BACKOFF) - 1)]
            tries += 1
            await_(asyncio.sleep(min(delay, deadline - now)))


class _StreamingCursor(sqlite3.Cursor):
    """A cursor whose rows are fetched as they are read (``AsyncConnection.stream``)."""

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        connection = self.connection
        if connection.in_transaction or not isinstance(connection, InlineConnection):
            sqlite3.Cursor.execute(self, sql, parameters)
        else:  # nothing has happened yet: safe to repeat if the database is locked
            run = partial(sqlite3.Cursor.execute, self, sql, parameters)
            _retry_while_locked(run, connection.lock_timeout)
        _checkpoint()
        return self

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        sqlite3.Cursor.executemany(self, sql, parameters)
        _checkpoint()
        return self

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio layer after ``execute``; nothing to release."""


class InlineCursor(_StreamingCursor):
    """The default cursor: the whole result is fetched by ``execute``."""

    __slots__ = ("_rows",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._rows: deque[Any] = deque()

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        super().execute(sql, parameters)
        rows = sqlite3.Cursor.fetchall(self) if self.description is not None else ()
        self._rows = deque(rows)
        return self

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        self._rows = deque()
        return super().executemany(sql, parameters)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __next__(self) -> Any:
        if self._rows:
            return self._rows.popleft()
        raise StopIteration


class InlineConnection(sqlite3.Connection):
    """``sqlite3.Connection`` with no busy handler: lock waits are asyncio waits.

    ``timeout`` keeps its ``sqlite3.connect`` meaning (how long to wait for a lock,
    in seconds), but the waiting is done by :func:`_retry_while_locked`.
    """

    def __init__(self, database: Any, timeout: float = DEFAULT_LOCK_TIMEOUT, **kwargs: Any):
        kwargs.pop("factory", None)  # sqlite3.connect passes its own arguments on
        super().__init__(database, timeout=0.0, **kwargs)
        self.lock_timeout = timeout

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or InlineCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        _retry_while_locked(partial(sqlite3.Connection.commit, self), self.lock_timeout)


class _InlineExecutionContext(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> Any:
        return self._dbapi_connection.cursor(_StreamingCursor)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's pysqlite dialect, declared asyncio, on :class:`InlineConnection`."""

    driver = DRIVER
    is_async = True
    has_terminate = True  # closing needs no await: safe from the garbage collector too
    supports_statement_cache = True
    supports_server_side_cursors = True
    execution_ctx_cls = _InlineExecutionContext

    def do_begin(self, dbapi_connection: Any) -> None:
        """``BEGIN IMMEDIATE`` (see :mod:`storage.db`), waited for like any statement
        outside a transaction. Done here rather than in a ``begin`` event: an engine with
        any connection event dispatches events around every statement it runs, which
        cost a conversation turn more than the BEGIN itself."""
        dbapi_connection.cursor().execute("BEGIN IMMEDIATE")

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        kwargs.setdefault("factory", InlineConnection)
        return args, kwargs

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # As aiosqlite: a file gets a pool whose waits are asyncio waits.
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        cls._warn_memory_mode_pool_selection(url, pool.StaticPool, pool.AsyncAdaptedQueuePool)
        return pool.StaticPool


class InlineAsyncConnection(AsyncConnection):
    """An ``AsyncConnection`` whose statements, inside a transaction, skip the greenlet.

    ``AsyncConnection.execute`` starts a greenlet for every statement so that the driver
    can await; this driver never needs to inside a transaction (``BEGIN IMMEDIATE``
    holds the write lock, so nothing there waits for a lock, and a busy error is raised
    at once either way). Starting and switching that greenlet cost as much as
    SQLAlchemy's own work for the statement, and more than SQLite's (about 27 µs of
    59 µs for a primary-key read here), ten times per conversation turn. So a statement
    in a transaction is run directly on the synchronous connection, with the same
    result, errors and event hooks. Outside a transaction the next statement would
    begin one (``BEGIN IMMEDIATE``, which may have to wait for another process), so it
    takes the ordinary path, as do ``begin``, ``commit`` and ``rollback``.
    """

    __slots__ = ()

    async def execute(
        self,
        statement: Executable,
        parameters: Any = None,
        *,
        execution_options: Any = None,
    ) -> CursorResult[Any]:
        connection = self._proxied
        if connection.in_transaction() and not execution_options:
            return connection.execute(statement, parameters)
        return await super().execute(statement, parameters, execution_options=execution_options)


dialect = InlineSQLiteDialect
