"""The application's database for one process: opened through the composition root
(:mod:`bot.bootstrap`, which re-exports everything here), migrated to head.

It is a module of its own so that a command that needs only the database
(``portpass import``, ``status``, ``db``) does not import what the services need: the
SMS providers (twilio), the Telegram client, aiohttp's server, the campaign
dispatcher. That was most of a second of start-up for every such command
(``docs/benchmarks.md``, "CLI start-up").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Config
from storage.db import create_engine
from storage.migrate import upgrade
from storage.outbox.sealing import BodySealer
from storage.uow import SqlUnitOfWorkFactory


@dataclass(frozen=True)
class Database:
    """The application's database: its engine and the unit of work on it."""

    engine: AsyncEngine
    uow: SqlUnitOfWorkFactory


async def open_database(config: Config, *, sealer: BodySealer | None = None) -> Database:
    """The configured database, migrated to head. The caller closes it
    (:func:`close_database`, or use :func:`database_for`). Without ``sealer`` its unit
    of work cannot queue an SMS that carries a code (:mod:`storage.outbox.sealing`)."""
    engine = create_engine(config.database.url)
    try:
        await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Database(engine, SqlUnitOfWorkFactory(engine, sealer=sealer))


async def close_database(database: Database) -> None:
    await database.engine.dispose()


@asynccontextmanager
async def database_for(config: Config) -> AsyncIterator[Database]:
    """The database for one command: opened and migrated on entry, closed on exit."""
    database = await open_database(config)
    try:
        yield database
    finally:
        await close_database(database)
