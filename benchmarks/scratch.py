"""A scratch database for one benchmark run, named by URL so the benchmark opens it
through the composition root (:mod:`bot.bootstrap`) like any entry point: a SQLite file
in a directory the caller owns, or a PostgreSQL database created next to the given
server's and dropped afterwards (creating and dropping it is server administration,
done here on an engine of its own)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import create_engine


@asynccontextmanager
async def scratch_database_url(workdir: Path, postgres_url: str | None) -> AsyncIterator[str]:
    if postgres_url is None:
        yield f"sqlite:///{workdir / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"portpass_bench_{uuid.uuid4().hex[:12]}"
    await _postgres(postgres_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _postgres(postgres_url, f'DROP DATABASE IF EXISTS "{name}"')


async def _postgres(url: str, statement: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(statement)
    finally:
        await admin.dispose()
