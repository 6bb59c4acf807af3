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
from storage.migrate import current_revision, head_revision, newest_in_files, upgrade
from storage.tables import lookup_failures, metadata, outbox

VERSIONS = Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions"


def migration_chain() -> list[str]:
    """The revisions from the base to the head, following each file's down_revision;
    fails when the files are not one line (a migration that forgot to chain itself onto
    the head leaves two heads, or a file that no chain reaches). Revision ids are handed
    out ahead of time, so a line may land out of numeric order (0008 before 0007)."""
    parents: dict[str, str | None] = {}
    for path in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"):
        namespace: dict[str, object] = {}
        source = path.read_text(encoding="utf-8")
        lines = [
            ln for ln in source.splitlines() if ln.startswith(("revision =", "down_revision ="))
        ]
        exec("\n".join(lines), namespace)  # noqa: S102 - two assignments of our own files
        parents[str(namespace["revision"])] = namespace["down_revision"]  # type: ignore[assignment]
    children: dict[str | None, list[str]] = {}
    for revision, parent in parents.items():
        children.setdefault(parent, []).append(revision)
    chain, current = [], None
    while current in children:
        assert len(children[current]) == 1, f"two migrations after {current}: {children[current]}"
        current = children[current][0]
        chain.append(current)
    assert sorted(chain) == sorted(parents), f"migrations off the line: {set(parents) - set(chain)}"
    return chain


#: The last migration of the one line the files form.
NEWEST = migration_chain()[-1]

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


def test_the_quick_reading_of_the_revision_files_agrees_with_alembic() -> None:
    """upgrade() skips Alembic for a database at newest_in_files(): it must be the head
    Alembic would upgrade to."""
    assert newest_in_files() == head_revision() == NEWEST


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


async def test_upgrading_masks_codes_that_earlier_versions_left_in_clear(
    empty_engine: AsyncEngine,
) -> None:
    """Before revision 0004 a verification SMS kept its code and link token in clear
    for ever. The upgrade masks them in every row already sent or failed; a row still
    waiting keeps its text (it must still be sent) and is masked once it is."""
    await upgrade(empty_engine, "0002")
    body = (
        "港區通行證末四碼0043驗證碼738291，24小時內有效，或點https://pp.example.tw/v/Qz7RkVw2JmXa"
    )
    rows = [
        ("verification", "sent", body),
        ("verification", "failed", body),
        ("verification", "pending", body),
        ("notice", "sent", "Your pass 123456 was suspended"),
    ]
    at = datetime(2026, 3, 1, tzinfo=UTC)
    async with empty_engine.begin() as conn:
        for kind, state, text in rows:
            await conn.execute(
                outbox.insert().values(
                    kind=kind,
                    to_phone="+886960123411",
                    body=text,
                    created_at=at,
                    state=state,
                    next_attempt_at=at,
                    updated_at=at,
                )
            )

    await upgrade(empty_engine)

    async with empty_engine.connect() as conn:
        bodies = list((await conn.execute(select(outbox.c.body).order_by(outbox.c.id))).scalars())
    masked = body.replace("738291", "●" * 6).replace("Qz7RkVw2JmXa", "●" * 12)
    assert bodies == [masked, masked, body, "Your pass 123456 was suspended"]
