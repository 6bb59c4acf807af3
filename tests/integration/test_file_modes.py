"""Who may read the SQLite database, its WAL and the key file beside it.

The database holds phones, ID numbers and (sealed) queued SMS; the key file unseals
them. Both must be readable by the service's account only, whatever the umask of the
process that created them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import load_config
from bot.config.secret_key import resolve_secret_key
from storage.db import create_engine
from storage.migrate import upgrade


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual default umask: files come out 0644 unless the code asks otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def exists(path: Path) -> bool:
    return path.exists()


def loosen(*paths: Path) -> None:
    """As an older version, or a copy with ``cp``, would have left them."""
    for path in paths:
        path.touch()
        path.chmod(0o644)


@pytest.mark.usefixtures("loose_umask")
async def test_the_sqlite_database_and_its_wal_are_readable_only_by_their_owner(
    tmp_path: Path,
) -> None:
    database = tmp_path / "portpass.db"
    engine = create_engine(f"sqlite:///{database}")
    try:
        await upgrade(engine)
        async with engine.begin() as conn:  # a write, so the WAL and SHM exist
            await conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert exists(wal) and exists(shm)
        assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("loose_umask")
async def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    database = tmp_path / "portpass.db"
    await upgrade(f"sqlite:///{database}")
    wal = Path(f"{database}-wal")
    loosen(database, wal)

    engine = create_engine(f"sqlite:///{database}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))  # and the database still opens
            assert (mode(database), mode(wal)) == (0o600, 0o600)
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("loose_umask")
def test_the_generated_key_file_is_private_and_a_loose_one_is_tightened(tmp_path: Path) -> None:
    config = load_config(
        None, {"PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'portpass.db'}"}, cwd=tmp_path
    )
    key = resolve_secret_key(config, demo=False)
    key_file = tmp_path / "portpass.db.secret"
    assert mode(key_file) == 0o600

    key_file.chmod(0o644)
    assert resolve_secret_key(config, demo=False) == key
    assert mode(key_file) == 0o600
