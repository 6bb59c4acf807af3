"""Databases built once and copied per test: migrating a fresh SQLite file (and loading
the demo registry into it) costs far more than copying the finished file.

A template is made by the same code the app runs on first start (the migrations; the
composition root's demo load), in a thread of its own so that its event loop never
meets the test's. A copy is taken only before anything has opened the target file, so
every test still gets a database of its own.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bot.bootstrap import services_for
from bot.config import Config, load_config
from storage.db import create_engine
from storage.migrate import upgrade

#: The settings a demo template is built with; a test with other phone regions gets a
#: demo database loaded the ordinary way, at start.
DEMO_REGIONS = ("TW",)


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _complete(path: Path) -> Path:
    """The closed file holds everything: no write-ahead log left beside it."""
    leftovers = [p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}-")]
    if leftovers:
        raise RuntimeError(f"template {path} was not checkpointed: {leftovers}")
    return path


def build_migrated(path: Path) -> Path:
    """An empty database at ``path``, migrated to head."""

    async def build() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _run(build())
    return _complete(path)


def build_demo(path: Path) -> Path:
    """The demo database at ``path``: migrated, with the demo registry loaded, as
    ``portpass serve --demo`` leaves it after its first start."""
    config = load_config(
        None,
        {
            "PORTPASS_DATABASE_URL": f"sqlite:///{path}",
            "PORTPASS_SECURITY_SECRET_KEY": "template-key-" + "x" * 32,
            "PORTPASS_PHONE_ALLOWED_REGIONS": ",".join(DEMO_REGIONS),
        },
        cwd=path.parent,
    )

    async def build() -> None:
        async with services_for(config, demo=True):
            pass

    _run(build())
    return _complete(path)


def copy_template(template: Path, target: Path) -> None:
    """``target`` starts as a copy of ``template``; it must not exist yet, or be empty (a
    test that restarts its app keeps the database it has). The first connection makes
    it 0600, as ``storage.db`` does with every database file it opens."""
    if target.exists() and target.stat().st_size > 0:
        raise FileExistsError(target)
    shutil.copyfile(template, target)


def demo_target(config: Config) -> Path | None:
    """The file a demo start with ``config`` would create and load the registry into,
    when the demo template is exactly that database; otherwise ``None`` (the app then
    loads the registry itself, as before)."""
    path = config.sqlite_path
    if (
        path is None
        or not path.is_absolute()
        or path.exists()
        or config.phone.allowed_regions != DEMO_REGIONS
    ):
        return None
    return path
