"""Bring a database's schema up to date with Alembic, from code.

The Alembic configuration is built here rather than read from an ``alembic.ini``, so
migrations run the same from a checkout and from an installed package. Alembic's
commands are synchronous; they run inside ``AsyncConnection.run_sync`` on a
connection we opened, the recipe Alembic documents for asyncio drivers.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` for our migrations; ``url`` only for the CLI path."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        # ConfigParser interpolation: a literal % (in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


@cache  # the revision files do not change while a process runs
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(target: str | URL | AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL, or an engine the caller owns).

    All revisions run in one transaction: on PostgreSQL and SQLite, DDL is
    transactional, so a failed upgrade leaves the schema where it was. A database
    already at head is left alone without running Alembic's command, which would load
    its environment and every revision file again: every start and CLI command
    upgrades, and nearly always there is nothing to do.
    """
    engine = target if isinstance(target, AsyncEngine) else create_engine(target)
    config = alembic_config()
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, config, revision)
    finally:
        if engine is not target:
            await engine.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    if revision == "head":
        current = MigrationContext.configure(connection).get_current_revision()
        if current is not None and current == head_revision():
            return
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
