"""Engines: one function that turns a configured URL into an ``AsyncEngine``.

Called at start-up by the composition root, the CLI and the tests; never at import,
so importing ``storage`` opens no file and no socket (importing this module only
registers the inline SQLite dialect's name with SQLAlchemy).

SQLite is the embedded default, and ``sqlite:///`` means our inline driver
(:mod:`storage.inline_sqlite`): statements run on the event loop thread, without
aiosqlite's thread hand-off per call, which cost far more than SQLite itself. An
explicit ``sqlite+aiosqlite:///`` still means aiosqlite. A SQLite file gets one
connection per process: SQLite has one writer at a time anyway, and waiting for the
pool is an asyncio wait.

The database file is made private as each connection opens it: created mode 0600
(whatever the umask), or, when it exists, stripped of any group and other permission,
and the same for its ``-wal`` and ``-shm`` files (SQLite creates those with the
database file's mode). Verification requests and the outbox hold phones and ID
numbers; a world-readable file would hand them to every local account.

Its connections get WAL (readers do not block the writer), a 5-second wait for
another connection's lock (a second process waits instead of failing; with the
inline driver the wait is an asyncio wait, with aiosqlite SQLite's busy handler
sleeping in aiosqlite's thread), ``synchronous=NORMAL`` (no fsync per commit under
WAL) and foreign keys on. Python's ``sqlite3`` driver would otherwise begin
transactions lazily, only before an INSERT/UPDATE/DELETE, so a unit of work's reads
would not be isolated from its writes; we take over and emit ``BEGIN IMMEDIATE``
ourselves (the inline dialect in its ``do_begin``, aiosqlite through a ``begin``
event). A unit of work then holds the write lock from its first statement: two
processes can never both read a request's attempt count and both write it back (the
same guarantee PostgreSQL's row locks give).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.inline_sqlite import DRIVER as INLINE_DRIVER

BUSY_TIMEOUT_MS = 5000  # how long a statement waits for another connection's lock

registry.register(f"sqlite.{INLINE_DRIVER}", "storage.inline_sqlite", "InlineSQLiteDialect")


def async_url(url: str | URL) -> URL:
    """The same database, addressed through its asyncio driver.

    ``sqlite:///x.db`` (and ``sqlite+pysqlite://``) become the inline driver,
    ``sqlite+portpass_inline``; ``sqlite+aiosqlite:///x.db`` stays aiosqlite;
    ``postgresql://`` (and ``postgres://``, ``postgresql+asyncpg://``) become asyncpg.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername == "sqlite+aiosqlite":
            return parsed
        return parsed.set(drivername=f"sqlite+{INLINE_DRIVER}")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def create_engine(url: str | URL, **options: Any) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url``; ``options`` go to ``create_async_engine``.

    Tests pass ``connect_args={"server_settings": {"search_path": schema}}`` to give
    each PostgreSQL test its own schema. The inline SQLite driver waits
    ``BUSY_TIMEOUT_MS`` for another connection's lock unless the URL's ``?timeout=``
    or ``connect_args={"timeout": seconds}`` says otherwise.
    """
    target = async_url(url)
    # Bound values are ID numbers, phones and names: never in SQL logging or in the
    # text of a database error, which ends up in a traceback (docs/security.md).
    options = {"hide_parameters": True, **options}
    if target.get_backend_name() == "sqlite" and target.database not in (None, "", ":memory:"):
        # One connection per process: SQLite has one writer at a time anyway, and
        # waiting for the pool is an asyncio wait in turn, where a second connection
        # would poll for SQLite's write lock (aiosqlite: its busy handler sleeping in
        # a thread; the inline driver: asyncio.sleep between tries). Other processes
        # still wait up to BUSY_TIMEOUT_MS.
        options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 10, **options}
    if target.get_driver_name() == INLINE_DRIVER and "timeout" not in target.query:
        connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, **options.get("connect_args", {})}
        options = {**options, "connect_args": connect_args}
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    # The inline driver keeps SQLite's busy handler off (it would sleep on the event
    # loop) and waits for locks itself; aiosqlite's thread may sleep in it.
    busy_handler = engine.dialect.driver != INLINE_DRIVER
    database = engine.url.database
    if database not in (None, "", ":memory:"):

        @event.listens_for(engine.sync_engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            # Before the driver opens (and so maybe creates) the file; nothing touches
            # it until the first connection (tests copy a template in before that).
            make_private(Path(database or ""))

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Stop the driver from issuing BEGIN itself; _on_begin does it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            if busy_handler:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    if engine.dialect.driver == INLINE_DRIVER:
        return  # the inline dialect begins with BEGIN IMMEDIATE itself (do_begin)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: What SQLite keeps beside a database in WAL mode.
SIDE_FILES = ("-wal", "-shm")


def make_private(database: Path) -> None:
    """Create ``database`` empty with mode 0600 if it does not exist (SQLite takes an
    empty file for an empty database), and take group and other permissions away from
    it and its WAL and shared-memory files if it does. Whatever cannot be done here (a
    missing directory, a file another account owns) is left for SQLite to report when
    it connects, or to whoever owns the file."""
    try:
        descriptor = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    os.close(descriptor)
    for path in (database, *(database.with_name(database.name + s) for s in SIDE_FILES)):
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                path.chmod(mode & 0o700)
        except OSError:
            continue
