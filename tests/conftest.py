"""Real databases: every storage test runs on SQLite and PostgreSQL.

Fixtures, from the bottom up:

* ``backend`` — where a fresh, empty database lives: a file under ``tmp_path``, or a
  schema of its own in the PostgreSQL database named by ``PORTPASS_TEST_POSTGRES_URL``
  (dropped with everything in it afterwards). PostgreSQL cases are marked
  ``postgres`` and skipped, saying why, when the variable is unset — unless
  ``PORTPASS_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), when they fail instead.
* ``empty_engine`` — an ``AsyncEngine`` on that database, nothing migrated.
* ``engine`` — the same, migrated to head. On SQLite the file starts as a copy of
  one migrated once per session (:mod:`tests.database_templates`): migrating each
  test's file anew was most of what these tests cost.
* ``uow_factory`` — a :class:`storage.uow.SqlUnitOfWorkFactory` on ``engine``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import upgrade
from storage.outbox.sealing import BodySealer
from storage.uow import SqlUnitOfWorkFactory
from tests.database_templates import build_migrated, copy_template

# Property tests check what is computed, never how fast: Hypothesis's default 200 ms
# deadline per example failed a phone-parsing test once while the shared 2-core machine
# was loaded (the first example pays for loading phonenumbers' metadata).
settings.register_profile("portpass", deadline=None)
settings.load_profile("portpass")

POSTGRES_URL_ENV = "PORTPASS_TEST_POSTGRES_URL"
REQUIRE_ENV = "PORTPASS_REQUIRE_POSTGRES"


def postgres_url() -> str:
    """The PostgreSQL test URL, or a skip (a failure in CI) saying how to get one."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    reason = (
        f"PostgreSQL tests need {POSTGRES_URL_ENV}, e.g. postgresql://postgres@127.0.0.1:5432/test"
    )
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: they must run here)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Backend:
    """A fresh database: its URL and the engine options that reach it."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    def engine(self) -> AsyncEngine:
        return create_engine(self.url, **self.options)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'portpass.db'}")
        return
    url = postgres_url()
    # A schema per test: tests cannot see each other's rows, and a failed test
    # leaves nothing behind for the next one.
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield Backend(
            "postgres", url, {"connect_args": {"server_settings": {"search_path": schema}}}
        )
    finally:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()


@pytest.fixture
async def empty_engine(backend: Backend) -> AsyncIterator[AsyncEngine]:
    engine = backend.engine()
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per session, for ``engine`` to copy."""
    return build_migrated(tmp_path_factory.mktemp("templates") / "migrated.db")


@pytest.fixture
async def engine(backend: Backend, empty_engine: AsyncEngine, migrated_sqlite: Path) -> AsyncEngine:
    if backend.name == "sqlite":
        # ``empty_engine`` has not connected yet (engines connect on first use), so
        # the file it opens is the migrated copy.
        copy_template(migrated_sqlite, Path(empty_engine.url.database or ""))
    else:
        await upgrade(empty_engine)
    return empty_engine


#: Seals queued SMS bodies in storage tests, as the services' sealer does in the app.
SEALER = BodySealer(b"storage-tests-secret-key-" + b"k" * 24)


@pytest.fixture
def uow_factory(engine: AsyncEngine) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, sealer=SEALER)
