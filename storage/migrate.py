"""Bring a database's schema up to date with Alembic, from code.

The Alembic configuration is built here rather than read from an ``alembic.ini``, so
migrations run the same from a checkout and from an installed package. Alembic's
commands are synchronous; they run inside ``AsyncConnection.run_sync`` on a
connection we opened, the recipe Alembic documents for asyncio drivers.

Nearly every start and CLI command finds the database at head already. That case is
answered without importing Alembic (a third of a second of CPU, most of what a quick
command like ``portpass status`` would cost): the newest revision is read from the
revision files' own ``revision`` / ``down_revision`` lines (:func:`newest_in_files`,
checked against Alembic's answer by ``tests/integration/test_schema.py``), the
database's from ``alembic_version``. Anything unexpected (no such table, a branch, a
file the simple reading does not understand) goes to Alembic as before.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ASSIGNED = re.compile(
    r'^(revision|down_revision)\s*(?::[^=]*)?=\s*(None|"[^"]*"|\'[^\']*\')\s*$', re.M
)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic ``Config`` for our migrations; ``url`` only for the CLI path."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        # ConfigParser interpolation: a literal % (in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


@cache  # the revision files do not change while a process runs
def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def newest_in_files() -> str | None:
    """The one head of the revision files, read from their ``revision`` and
    ``down_revision`` lines; ``None`` when that reading is not certain (then Alembic
    decides)."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        found = {m.group(1): m.group(2) for m in _ASSIGNED.finditer(source)}
        if set(found) != {"revision", "down_revision"} or found["revision"] == "None":
            return None
        down = found["down_revision"]
        revisions[found["revision"][1:-1]] = None if down == "None" else down[1:-1]
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at the newest revision, known without Alembic."""
    newest = newest_in_files()
    if newest is None:
        return False
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:  # no such table: a new database
        return False
    return [row[0] for row in rows] == [newest]


async def upgrade(target: str | URL | AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL, or an engine the caller owns).

    All revisions run in one transaction: on PostgreSQL and SQLite, DDL is
    transactional, so a failed upgrade leaves the schema where it was. A database
    already at head is left alone without running Alembic's command, which would load
    its environment and every revision file again: every start and CLI command
    upgrades, and nearly always there is nothing to do.
    """
    engine = target if isinstance(target, AsyncEngine) else create_engine(target)
    try:
        if revision == "head" and await at_head(engine):
            return
        config = alembic_config()
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, config, revision)
    finally:
        if engine is not target:
            await engine.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if revision == "head":
        current = MigrationContext.configure(connection).get_current_revision()
        if current is not None and current == head_revision():
            return
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
