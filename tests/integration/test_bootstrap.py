"""The composition root (:mod:`bot.bootstrap`): every entry point gets its database and
services there, opened the same way, and closed when it is done."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.bootstrap import database_for, services_for
from bot.config import Config, ConfigError, load_config
from storage.migrate import current_revision, head_revision
from storage.registry.importer import DEMO_REGISTRY, import_registry
from storage.tables import passes


def config_for(tmp_path: Path, **env: str) -> Config:
    return load_config(
        None, {"PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'root.db'}", **env}, cwd=tmp_path
    )


async def test_a_command_gets_the_configured_database_migrated_and_closed_after(
    tmp_path: Path,
) -> None:
    config = config_for(tmp_path)
    async with database_for(config) as database:
        assert await current_revision(database.engine) == head_revision()
        report = await import_registry(database.engine, DEMO_REGISTRY)
        assert report.committed
        async with database.uow() as uow:
            assert sum((await uow.passes.count_by_status()).values()) == 21
    # Disposed: the pool holds no connection (a SQLite file stays locked otherwise).
    assert database.engine.pool.checkedout() == 0
    # The same file, as the next command sees it.
    async with database_for(config) as again, again.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
    assert count == 21


async def test_services_need_a_key_before_anything_connects(tmp_path: Path) -> None:
    config = load_config(
        None, {"PORTPASS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, cwd=tmp_path
    )
    with pytest.raises(ConfigError, match=r"^security\.secret_key is required"):
        async with services_for(config):
            pass


async def test_services_share_the_database_of_their_unit_of_work(tmp_path: Path) -> None:
    config = config_for(tmp_path, PORTPASS_SECURITY_SECRET_KEY="k" * 40)
    async with services_for(config, demo=True) as services:
        assert services.uow.engine is services.engine
        async with services.uow() as uow:
            assert sum((await uow.passes.count_by_status()).values()) == 21
        account, _ = await services.operator_lifecycle.add_operator("王小明", "高雄港測試業者")
    async with database_for(config) as database, database.uow() as uow:
        assert await uow.operators.get(account.id) is not None
