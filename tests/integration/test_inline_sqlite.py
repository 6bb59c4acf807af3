"""The inline SQLite driver (storage/inline_sqlite.py) behind ``create_engine``.

Statements run on the event loop thread, so these tests check what the driver promises
in return: results, row counts and errors as from any SQLAlchemy driver, transactions
that roll back, and waits that are asyncio waits, never sleeps on the loop: for the
pool (a second connection in the same process), for a second engine on the same file,
and for another process holding the write lock, which ends in an ``OperationalError``
after the engine's lock timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.concurrency import greenlet_spawn

from storage.db import async_url, create_engine
from storage.inline_sqlite import InlineConnection
from storage.uow import SqlUnitOfWorkFactory

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("n", Integer, nullable=False, default=0),
)

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()  # until the test says so
conn.execute("COMMIT")
"""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "inline.db"


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{db_path}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def ticking() -> AsyncIterator[Callable[[], int]]:
    """Counts 5 ms ticks of the event loop while the block runs: a blocked loop ticks 0."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(tick())
    try:
        yield lambda: ticks
    finally:
        task.cancel()


@asynccontextmanager
async def other_process_holding_the_write_lock(db: Path) -> AsyncIterator[Callable[[], None]]:
    """A second process in ``BEGIN IMMEDIATE`` on ``db``; call the result to release it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLD_LOCK,
        str(db),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin = process.stdin

    def release() -> None:
        if not stdin.is_closing():
            stdin.write(b"go\n")
            stdin.close()

    try:
        assert await process.stdout.readline() == b"locked\n"
        yield release
    finally:
        release()
        assert await process.wait() == 0


# --- which driver ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///var/portpass.db", "sqlite+portpass_inline"),
        ("sqlite+pysqlite:///var/portpass.db", "sqlite+portpass_inline"),
        ("sqlite+portpass_inline:///var/portpass.db", "sqlite+portpass_inline"),
        ("sqlite+aiosqlite:///var/portpass.db", "sqlite+aiosqlite"),
    ],
)
def test_plain_sqlite_urls_mean_the_inline_driver(url: str, driver: str) -> None:
    converted = async_url(url)
    assert converted.drivername == driver
    assert converted.database == "var/portpass.db"


async def test_an_inline_engine_is_an_asyncio_engine(engine: AsyncEngine) -> None:
    assert isinstance(engine, AsyncEngine)
    assert engine.dialect.is_async and engine.dialect.driver == "portpass_inline"
    assert isinstance(engine.pool, AsyncAdaptedQueuePool)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, InlineConnection)


@pytest.mark.parametrize(("scheme", "busy"), [("sqlite", 0), ("sqlite+aiosqlite", 5000)])
async def test_connections_are_configured(tmp_path: Path, scheme: str, busy: int) -> None:
    """WAL, NORMAL sync, foreign keys; SQLite's busy handler only where it cannot block
    the loop (aiosqlite's thread), the inline driver waits for locks itself."""
    engine = create_engine(f"{scheme}:///{tmp_path / 'pragmas.db'}")
    try:
        async with engine.connect() as conn:
            pragmas = [
                (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            ]
    finally:
        await engine.dispose()
    assert pragmas == ["wal", busy, 1, 1]


# --- results, row counts, errors, transactions ----------------------------------------


async def test_results_come_back_whole(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(items), [{"name": f"item{i}", "n": i} for i in range(500)])
    query = select(items.c.name).order_by(items.c.id)
    async with engine.connect() as conn:
        first = (await conn.execute(query)).first()
        names = [row.name for row in await conn.execute(query)]
        count = len((await conn.execute(query)).scalars().all())
        later = await conn.execute(query.limit(2))
    assert first is not None and first.name == "item0"
    assert names[-1] == "item499" and len(names) == count == 500
    # Fetched by execute, as aiosqlite does: readable after the connection went back.
    assert later.scalars().all() == ["item0", "item1"]


async def test_streaming_reads_as_it_goes(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(items), [{"name": f"item{i}"} for i in range(50)])
    async with engine.connect() as conn:
        result = await conn.stream(select(items.c.name).order_by(items.c.id))
        names = [name async for name in result.scalars()]
    assert names == [f"item{i}" for i in range(50)]


async def test_row_counts(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        added = await conn.execute(insert(items), [{"name": n} for n in ("a", "b", "c")])
        changed = await conn.execute(update(items).where(items.c.name != "c").values(n=7))
        nothing = await conn.execute(update(items).where(items.c.name == "z").values(n=1))
        ignored = await conn.execute(sqlite_insert(items).values(name="a").on_conflict_do_nothing())
        returned = await conn.execute(
            update(items).where(items.c.n == 7).values(n=8).returning(items.c.name)
        )
        assert sorted(returned.scalars()) == ["a", "b"]
    assert (added.rowcount, changed.rowcount, nothing.rowcount, ignored.rowcount) == (3, 2, 0, 0)
    assert returned.rowcount == 2


async def test_a_unique_violation_is_an_integrity_error(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(insert(items).values(name="a"))
        with pytest.raises(IntegrityError, match="UNIQUE constraint failed"):
            await conn.execute(insert(items).values(name="a"))
        await conn.rollback()
        # The connection is fine afterwards.
        await conn.execute(insert(items).values(name="b"))
        await conn.commit()
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.name))).scalars().all() == ["b"]


async def test_rollback_discards_and_commit_keeps(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(insert(items).values(name="lost"))
            raise RuntimeError("the unit of work failed")
    async with engine.begin() as conn:
        await conn.execute(insert(items).values(name="kept"))
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.name))).scalars().all() == ["kept"]


async def test_a_transaction_holds_the_write_lock_from_its_first_read(
    engine: AsyncEngine, db_path: Path
) -> None:
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        async with engine.connect() as conn:
            await conn.execute(select(items.c.id))  # BEGIN IMMEDIATE, then the read
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released with the connection
        other.execute("ROLLBACK")
    finally:
        other.close()


# --- waiting without blocking the loop -------------------------------------------------


async def test_a_second_connection_in_the_process_waits_for_the_pool_asynchronously(
    engine: AsyncEngine,
) -> None:
    async def second() -> list[str]:
        async with engine.connect() as conn:
            return list((await conn.execute(select(items.c.name))).scalars())

    async with ticking() as ticks:
        async with engine.begin() as conn:  # the one pooled connection
            await conn.execute(insert(items).values(name="first"))
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.1)
            assert not waiting.done()
        assert await waiting == ["first"]
        assert ticks() >= 5


async def test_a_second_engine_on_the_file_waits_for_the_lock_asynchronously(
    engine: AsyncEngine, db_path: Path
) -> None:
    other = create_engine(f"sqlite:///{db_path}")
    try:

        async def write_from_the_other_engine() -> float:
            started = time.monotonic()
            async with other.begin() as conn:  # BEGIN IMMEDIATE finds the file locked
                await conn.execute(insert(items).values(name="second"))
            return time.monotonic() - started

        async with ticking() as ticks:
            async with engine.begin() as conn:
                await conn.execute(insert(items).values(name="first"))
                waiting = asyncio.create_task(write_from_the_other_engine())
                await asyncio.sleep(0.2)  # the loop runs on while the other engine waits
                assert not waiting.done()
            waited = await waiting
            assert ticks() >= 10
        assert waited >= 0.15
        async with engine.connect() as conn:
            names = (await conn.execute(select(items.c.name).order_by(items.c.id))).scalars()
            assert names.all() == ["first", "second"]
    finally:
        await other.dispose()


async def test_another_process_holding_the_lock_ends_in_an_error_after_the_timeout(
    engine: AsyncEngine, db_path: Path
) -> None:
    impatient = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 0.3})
    try:
        async with other_process_holding_the_write_lock(db_path), ticking() as ticks:
            started = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"):
                async with impatient.begin() as conn:
                    await conn.execute(insert(items).values(name="never"))
            waited = time.monotonic() - started
            assert ticks() >= 20  # about 60 in 0.3 s: the wait was not a sleep on the loop
        assert 0.3 <= waited < 3
        async with impatient.begin() as conn:  # the lock is free again
            await conn.execute(insert(items).values(name="later"))
    finally:
        await impatient.dispose()


async def test_a_lock_released_in_time_is_waited_for(engine: AsyncEngine, db_path: Path) -> None:
    async with other_process_holding_the_write_lock(db_path) as release:
        asyncio.get_running_loop().call_later(0.2, release)
        async with ticking() as ticks, engine.begin() as conn:
            await conn.execute(insert(items).values(name="after"))
        assert ticks() >= 10
    async with engine.connect() as conn:
        assert (await conn.execute(select(items.c.name))).scalars().all() == ["after"]


async def test_a_busy_statement_inside_a_transaction_is_not_retried(
    engine: AsyncEngine, db_path: Path
) -> None:
    """Repeating a statement is only safe outside a transaction (or for COMMIT): here a
    deferred transaction's snapshot went stale, and waiting could never help."""

    def stale_write() -> float:
        conn = sqlite3.connect(db_path, factory=InlineConnection, timeout=5, isolation_level=None)
        other = sqlite3.connect(db_path, isolation_level=None)
        try:
            conn.execute("BEGIN")  # deferred
            conn.execute("SELECT count(*) FROM items").fetchall()  # the snapshot
            other.execute("INSERT INTO items (name, n) VALUES ('other', 0)")
            started = time.monotonic()
            try:
                conn.execute("INSERT INTO items (name, n) VALUES ('mine', 0)")
            except sqlite3.OperationalError:
                return time.monotonic() - started
            raise AssertionError("the stale snapshot was allowed to write")
        finally:
            conn.close()
            other.close()

    assert await greenlet_spawn(stale_write) < 1


def test_outside_the_asyncio_layer_a_locked_database_fails_at_once(db_path: Path) -> None:
    holder = sqlite3.connect(db_path, isolation_level=None)
    conn: Any = sqlite3.connect(db_path, factory=InlineConnection, timeout=5, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            conn.execute("BEGIN IMMEDIATE")
        assert time.monotonic() - started < 1  # no greenlet to wait in: no sleeping here
    finally:
        holder.close()
        conn.close()


async def test_a_unit_of_work_used_again_after_its_commit_waits_for_the_lock_on_the_loop(
    engine: AsyncEngine, db_path: Path
) -> None:
    """Inside a transaction a unit of work runs its statements without a greenlet
    (storage.inline_sqlite.InlineAsyncConnection); the statement after a commit begins
    the next transaction, and that BEGIN IMMEDIATE may find another process holding
    the lock: it waits as an asyncio wait, as a fresh unit of work would."""
    units = SqlUnitOfWorkFactory(engine)
    async with units() as uow:
        await uow.connection.execute(insert(items).values(name="first"))
        await uow.commit()
        async with other_process_holding_the_write_lock(db_path) as release:
            asyncio.get_running_loop().call_later(0.2, release)
            async with ticking() as ticks:
                await uow.connection.execute(insert(items).values(name="second"))
                await uow.commit()
            assert ticks() >= 10
    async with engine.connect() as conn:
        names = (await conn.execute(select(items.c.name).order_by(items.c.id))).scalars()
        assert names.all() == ["first", "second"]
