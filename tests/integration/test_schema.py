"""Engines, migrations and the schema they build."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import async_url, create_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.tables import lookup_failures, metadata

#: The newest migration file's revision: a migration that forgets to chain itself onto
#: the last one (two heads) or a head that is not the newest file fails here.
NEWEST = max(
    p.name.split("_", 1)[0]
    for p in (Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions").glob(
        "[0-9][0-9][0-9][0-9]_*.py"
    )
)

TABLES = {
    "persons",
    "passes",
    "verification_requests",
    "outbox",
    "audit_log",
    "lookup_failures",
    "notices",
    "notice_messages",
    "notice_digests",
}


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///var/portpass.db", "sqlite+portpass_inline"),
        ("sqlite+aiosqlite:///var/portpass.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db:5432/portpass", "postgresql+asyncpg"),
        ("postgres://u:p@db/portpass", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/portpass", "postgresql+asyncpg"),
    ],
)
def test_async_url_picks_the_asyncio_driver(url: str, driver: str) -> None:
    converted = async_url(url)
    assert converted.drivername == driver
    assert converted.database == async_url(url).database


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        create_engine("mysql://db/portpass")


async def test_upgrade_from_empty_builds_the_schema(empty_engine: AsyncEngine) -> None:
    assert await current_revision(empty_engine) is None
    await upgrade(empty_engine)
    assert await current_revision(empty_engine) == head_revision() == NEWEST
    async with empty_engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert names >= TABLES


async def test_upgrade_twice_is_harmless(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    await upgrade(empty_engine)
    assert await current_revision(empty_engine) == head_revision()


async def test_upgrade_by_url_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/by-url.db"
    await upgrade(url)  # makes and disposes of its own engine
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_migrations_match_the_tables_module(engine: AsyncEngine) -> None:
    """storage/tables.py and the migrations describe the same schema."""

    def differences(sync: object) -> list[object]:
        context = MigrationContext.configure(sync, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_timestamps_come_back_aware_and_utc(engine: AsyncEngine) -> None:
    taipei = timezone(timedelta(hours=8))
    at = datetime(2026, 3, 1, 23, 30, 15, 123456, tzinfo=taipei)
    async with engine.begin() as conn:
        await conn.execute(lookup_failures.insert().values(key="k", at=at))
    async with engine.connect() as conn:
        stored = (await conn.execute(select(lookup_failures.c.at))).scalar_one()
        later = (
            await conn.execute(
                select(lookup_failures.c.at).where(lookup_failures.c.at > at - timedelta(hours=1))
            )
        ).scalar_one_or_none()
    assert stored == at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 3, 1, 15, 30, 15, 123456, tzinfo=UTC)
    assert later == at  # comparisons in SQL see the same instant
