"""Engines: one function that turns a configured URL into an ``AsyncEngine``.

Called at start-up by the composition root, the CLI and the tests; never at import,
so importing ``storage`` opens no file and no socket.

SQLite is the embedded default. Its connections get WAL (readers do not block the
writer), a 5-second busy timeout (a second process waits instead of failing), and
foreign keys on. Python's ``sqlite3`` driver would otherwise begin transactions
lazily, only before an INSERT/UPDATE/DELETE, so a unit of work's reads would not be
isolated from its writes; we take over and emit ``BEGIN IMMEDIATE`` ourselves. A unit
of work then holds the write lock from its first statement: two processes can never
both read a request's attempt count and both write it back (the same guarantee
PostgreSQL's row locks give).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 5000


def async_url(url: str | URL) -> URL:
    """The same database, addressed through its asyncio driver.

    ``sqlite:///x.db`` and ``sqlite+aiosqlite:///x.db`` become aiosqlite;
    ``postgresql://`` (and ``postgres://``, ``postgresql+asyncpg://``) become asyncpg.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def create_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url``; ``options`` go to ``create_async_engine``.

    Tests pass ``connect_args={"server_settings": {"search_path": schema}}`` to give
    each PostgreSQL test its own schema.
    """
    target = async_url(url)
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing BEGIN itself; _on_begin does it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
