"""``portpass db``: upgrade, back up and prune the database."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.background.housekeeping import retention_of
from bot.cli.database import opened, require_database
from bot.cli.errors import CliError
from bot.config import Config
from bot.database import database_for
from core.clock import SystemClock
from storage.backup import BackupError, backup_sqlite
from storage.housekeeping import prune


async def run_db(args: argparse.Namespace, config: Config) -> int:
    if args.db_command == "backup":
        return await _backup(args.path, config)
    if args.db_command == "prune":
        return await _prune(config, dry_run=args.dry_run)
    async with database_for(config):  # opening it migrates it
        pass
    print("database is at the newest schema")
    return 0


async def _backup(path: Path, config: Config) -> int:
    require_database(config)  # a backup of a database just created would be empty
    try:
        report = await asyncio.to_thread(backup_sqlite, config.database.url, path)
    except BackupError as error:
        raise CliError(str(error)) from None
    print(
        f"backed up {report.passes} passes to {report.path} "
        f"({report.bytes / 1_048_576:.1f} MiB, mode 0600, integrity ok); "
        "keep the secret key apart from it"
    )
    return 0


async def _prune(config: Config, *, dry_run: bool) -> int:
    retention = retention_of(config)
    async with opened(config, read_only=True) as database:
        pruned = await prune(database.engine, SystemClock().now(), retention, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name, count in pruned.items():
        days = getattr(retention, name).days
        print(f"{name}: {verb} {count} (kept {days} days)")
    if dry_run:
        print("dry run: nothing was deleted")
    return 0
