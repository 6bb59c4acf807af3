"""Helpers for tests that run real ``portpass serve`` processes: a free port, and a
PostgreSQL database of their own that a child process can reach by URL alone."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

from sqlalchemy.engine import make_url

from storage.db import create_engine
from tests.conftest import postgres_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def postgres_role() -> AsyncIterator[str]:
    """A database URL of its own on the test server, for processes that cannot be given
    a schema through engine options: a login role whose search_path is a schema it
    owns. Dropped afterwards (dropping a whole database costs PostgreSQL a checkpoint)."""
    admin_url = postgres_url()
    role = f"pp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
            await conn.exec_driver_sql(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
            await conn.exec_driver_sql(f'ALTER ROLE "{role}" SET search_path = "{role}"')
        yield make_url(admin_url).set(username=role).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{role}" CASCADE')
            await conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        await admin.dispose()
