"""Which database a command opens, said out loud when it matters.

``database.url`` defaults to ``sqlite:///portpass.db``, relative to the working
directory: run from anywhere else, a command used to create an empty ``portpass.db``
there and print an empty table, as if the registry were empty. Now a command that only
reads refuses to create a database (naming the file it looked for and how to point at
the right one), and any command says which database it opened when that database is
new or holds no passes.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.errors import CliError
from bot.config import Config
from bot.database import Database, database_for
from storage.tables import passes


def missing_sqlite_file(config: Config) -> Path | None:
    """The SQLite file ``database.url`` names, if it does not exist yet."""
    path = config.sqlite_path
    if path is None or path.exists():
        return None
    return path.absolute()


def require_database(config: Config) -> None:
    """For commands that only read: no database file, no command (and no new file)."""
    path = missing_sqlite_file(config)
    if path is not None:
        raise CliError(
            f"no database at {path} (database.url = {config.database.url!r}, relative to "
            "the working directory): run portpass in the directory of your config.toml, "
            "pass --config or set PORTPASS_DATABASE_URL; to start a new one, "
            "portpass import FILE"
        )


def shown_url(config: Config) -> str:
    """The database as a person finds it: a SQLite file's full path, else the URL
    without its password."""
    path = config.sqlite_path
    if path is not None:
        return str(path.absolute())
    from sqlalchemy.engine import make_url

    return make_url(config.database.url).render_as_string(hide_password=True)


async def say_which(
    config: Config,
    engine: AsyncEngine,
    *,
    new: bool,
    empty_too: bool = True,
    err: TextIO | None = None,
) -> None:
    """One line on stderr when the database is new or (``empty_too``) holds no
    passes; nothing otherwise (the usual case stays quiet)."""
    out = sys.stderr if err is None else err
    if new:
        print(f"portpass: created a new database at {shown_url(config)}", file=out)
        return
    if not empty_too:
        return
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
    if count == 0:
        print(
            f"portpass: the database at {shown_url(config)} holds no passes yet "
            "(portpass import FILE loads the registry)",
            file=out,
        )


@asynccontextmanager
async def opened(
    config: Config, *, read_only: bool, empty_too: bool = True
) -> AsyncIterator[Database]:
    """:func:`bot.bootstrap.database_for`, refusing to create a database for a command
    that only reads, and saying which database it opened when new or (``empty_too``)
    empty."""
    if read_only:
        require_database(config)
    new = missing_sqlite_file(config) is not None
    async with database_for(config) as database:
        await say_which(config, database.engine, new=new, empty_too=empty_too)
        yield database
