"""``portpass import`` and ``portpass status``: the pass registry in, its status out."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bot.cli.database import missing_sqlite_file, opened
from bot.cli.errors import CliError
from bot.cli.import_report import ProgressBar, print_import
from bot.cli.status_report import print_status
from bot.config import Config
from bot.database import Database, database_for
from core.errors import InvalidInput
from core.values import PassNumber
from storage.registry.importer import import_registry


async def run_import(args: argparse.Namespace, config: Config) -> int:
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    missing = missing_sqlite_file(config)
    if args.dry_run and missing is not None:
        # A dry run changes nothing, so it creates no database either: it checks the
        # file against an empty one, which is what the first import would find.
        print(
            f"portpass: no database at {missing} yet: checking against an empty one",
            file=sys.stderr,
        )
        with tempfile.TemporaryDirectory() as scratch:
            scratch_config = _sqlite_at(config, Path(scratch) / "dry-run.db")
            async with database_for(scratch_config) as database:
                return await _import(args, config, database)
    # An empty database is what a first import fills: only a new one is worth a line.
    async with opened(config, read_only=False, empty_too=False) as database:
        return await _import(args, config, database)


def _sqlite_at(config: Config, path: Path) -> Config:
    database = replace(config.database, url=f"sqlite:///{path}")
    return replace(config, database=database)


async def _import(args: argparse.Namespace, config: Config, database: Database) -> int:
    with ProgressBar(sys.stderr) as progress:
        report = await import_registry(
            database.engine,
            args.file,
            dry_run=args.dry_run,
            skip_invalid=args.skip_invalid,
            regions=config.phone.allowed_regions,
            progress=progress,
        )
    print_import(report, args.file)
    return 0 if report.committed or (args.dry_run and report.ok) else 1


async def run_status(args: argparse.Namespace, config: Config) -> int:
    try:
        wanted = [PassNumber.parse(raw) for raw in args.pass_no]
    except InvalidInput as error:
        raw = error.fields.get("raw")
        raise CliError(f"not a pass number: {raw!r} (e.g. KHPS113-000043)") from None
    async with opened(config, read_only=True) as database:
        return await print_status(
            database.uow,
            wanted or None,
            company=args.company,
            state=args.state,
            fmt=args.format,
            headers=args.headers,
        )
