"""``portpass``: the admin CLI. Every command builds its services through the same
composition root as the server, and every failure is one clear line and a non-zero
exit, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bot.background.housekeeping import retention_of
from bot.bootstrap import database_for
from bot.cli.campaign import add_campaign_parser, run_campaign
from bot.cli.check_config import check_config
from bot.cli.import_report import ProgressBar, print_import
from bot.cli.notices import add_notices_parser, run_notices
from bot.cli.operator import add_operator_parser, run_operator
from bot.cli.serve import add_serve_parser, run_serve
from bot.cli.status_report import print_status
from bot.config import Config, ConfigError, load_config
from bot.event_loop import EventLoopUnavailable, LoopFactory, loop_factory
from bot.logs import configure_logging
from core.clock import SystemClock
from core.errors import InvalidInput
from core.model import Status
from core.status import status_from_word, status_words
from core.values import PassNumber
from storage.backup import BackupError, backup_sqlite
from storage.housekeeping import prune
from storage.registry.importer import import_registry

log = logging.getLogger("portpass")

Command = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portpass", description="PortPass Verify: port-pass phone verification bot"
    )
    parser.add_argument(
        "--config", help="TOML config file (default: $PORTPASS_CONFIG, ./config.toml)"
    )
    parser.add_argument("--version", action="version", version=f"portpass {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_serve_parser(commands)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the newest")
    backup = db_commands.add_parser(
        "backup", help="copy a SQLite database to PATH, safely while serve runs (mode 0600)"
    )
    backup.add_argument("path", type=Path, help="a new file for the copy")
    prune = db_commands.add_parser(
        "prune", help="delete rows past their retention (retention.* in the config)"
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")

    imp = commands.add_parser(
        "import",
        help="import the pass registry from a CSV file (UTF-8, Big5 or UTF-16; "
        "comma, semicolon or tab; English or Chinese column names)",
    )
    imp.add_argument("file", type=Path, help="the registry export (CSV)")
    imp.add_argument("--dry-run", action="store_true", help="check and report, change nothing")
    imp.add_argument(
        "--skip-invalid", action="store_true", help="import the valid rows even if some are not"
    )

    status = commands.add_parser("status", help="verification status of passes (R7)")
    status.add_argument("pass_no", nargs="*", help="only these pass numbers")
    status.add_argument("--company", help="only this company's passes (as in the registry)")
    status.add_argument(
        "--state",
        type=_state,
        metavar="STATE",
        help="only passes in this state: " + "; ".join(status_words()),
    )
    status.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default) for reading, csv for Excel, json for programs",
    )
    status.add_argument(
        "--headers",
        choices=("zh", "en"),
        default="zh",
        help="CSV header and status language (default zh: 通行證號, 是否驗證, ...)",
    )

    add_operator_parser(commands)
    add_notices_parser(commands)
    add_campaign_parser(commands)

    commands.add_parser(
        "check-config",
        help="check the configuration and show the verification SMS with its segment count",
    )

    chat = commands.add_parser(
        "chat", help="text the running server as a phone, without Twilio (try the SMS flow)"
    )
    chat.add_argument(
        "--from",
        dest="sender",
        metavar="PHONE",
        required=True,
        help="the phone to text as, e.g. 0960123411",
    )
    chat.add_argument(
        "--url", help="where the server listens (default: http://<server.host>:<server.port>)"
    )
    return parser


def _version() -> str:
    try:
        return metadata.version("portpass-verify")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def _state(word: str) -> Status:
    """``--state`` takes what people see: 已驗證, verified, 待驗證, pending, …"""
    status = status_from_word(word)
    if status is None:
        raise argparse.ArgumentTypeError(
            f"{word!r} is not a state; use one of: " + "; ".join(status_words())
        )
    return status


async def _db(args: argparse.Namespace, config: Config) -> int:
    if args.db_command == "backup":
        return await _backup(args.path, config)
    if args.db_command == "prune":
        return await _prune(config, dry_run=args.dry_run)
    async with database_for(config):  # opening it migrates it
        pass
    print("database is at the newest schema")
    return 0


async def _backup(path: Path, config: Config) -> int:
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
    async with database_for(config) as database:
        pruned = await prune(database.engine, SystemClock().now(), retention, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name, count in pruned.items():
        days = getattr(retention, name).days
        print(f"{name}: {verb} {count} (kept {days} days)")
    if dry_run:
        print("dry run: nothing was deleted")
    return 0


async def _import(args: argparse.Namespace, config: Config) -> int:
    if not args.file.is_file():
        raise CliError(f"no such file: {args.file}")
    async with database_for(config) as database:
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


async def _status(args: argparse.Namespace, config: Config) -> int:
    try:
        wanted = [PassNumber.parse(raw) for raw in args.pass_no]
    except InvalidInput as error:
        raw = error.fields.get("raw")
        raise CliError(f"not a pass number: {raw!r} (e.g. KHPS113-000043)") from None
    async with database_for(config) as database:
        return await print_status(
            database.uow,
            wanted or None,
            company=args.company,
            state=args.state,
            fmt=args.format,
            headers=args.headers,
        )


async def _chat(args: argparse.Namespace, config: Config) -> int:
    from bot.cli.chat import chat_command  # loads the whole app: only this command needs it

    return await chat_command(args, config)


COMMANDS: dict[str, Command] = {
    "serve": run_serve,
    "db": _db,
    "import": _import,
    "status": _status,
    "operator": run_operator,
    "notices": run_notices,
    "campaign": run_campaign,
    "check-config": check_config,
    "chat": _chat,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"portpass: configuration: {error}", file=sys.stderr)
        return 2
    configure_logging(config)
    try:
        factory: LoopFactory | None = None
        if args.command == "serve":
            name, factory = loop_factory(config.server.event_loop)
            log.info("event loop: %s", name)
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(COMMANDS[args.command](args, config))
    except (CliError, ConfigError, EventLoopUnavailable) as error:
        print(f"portpass: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `portpass status | head` closed the pipe: the reader has what it wanted. Point
        # stdout at /dev/null so the interpreter's own flush at exit stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        print(f"portpass: {error.strerror or error}", file=sys.stderr)
        return 1
    except Exception as error:  # the last line of defence: one line, no traceback
        # Driver errors can quote SQL parameters (ID numbers, phones): type only here,
        # the details at DEBUG for whoever runs it with logging.level = "DEBUG".
        log.debug("unexpected error", exc_info=True)
        print(
            f"portpass: unexpected error ({type(error).__name__}); "
            "set logging.level = DEBUG for details",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
