"""Every ``portpass`` command's options, and nothing else.

Building the parser imports the standard library only, so ``portpass --version`` and
``portpass --help`` start at once (``docs/benchmarks.md``, "CLI start-up"); a command
imports what it uses when it runs (:mod:`bot.cli.main`). The few help texts drawn from
the message catalogues (the status words) or from ``core`` (the campaign window) are
rendered only when help is shown (:mod:`bot.cli.lazy_help`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.lazy_help import HelpFormatter
from bot.cli.subcommands import add_campaign_parser, add_notices_parser, add_operator_parser

if TYPE_CHECKING:
    from bot.cli.subcommands import Commands
    from bot.services import Worker
    from core.model import Status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portpass", description="PortPass Verify: port-pass phone verification bot"
    )
    parser.add_argument(
        "--config", help="TOML config file (default: $PORTPASS_CONFIG, ./config.toml)"
    )
    parser.add_argument("--version", action=VersionAction, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    _add_db(commands)
    _add_registry(commands)
    add_operator_parser(commands)
    add_notices_parser(commands)
    add_campaign_parser(commands)
    check = commands.add_parser(
        "check-config",
        help="check the configuration and show the verification SMS with its segment count",
    )
    check.add_argument(
        "--probe",
        action="store_true",
        help="also bind once to the SMSC (sms.sender = smpp) and report; sends nothing",
    )
    _add_chat(commands)
    return parser


class VersionAction(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"portpass {package_version()}", file=sys.stdout)
        parser.exit()


def package_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("portpass-verify")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


def _add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the web server (webhooks, link page)")
    serve.add_argument("--host", help="listen address (default: server.host)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port)")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo registry of the guide's test holders and show a dev inbox",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run N server processes on the one port (PostgreSQL only; default 1)",
    )
    serve.add_argument(
        "--listen-fd",
        type=int,
        help="(internal) the inherited listening socket of a --workers child",
    )
    serve.add_argument(
        "--worker",
        type=_worker,
        help="(internal) which --workers child this is, as INDEX/COUNT",
    )


def _worker(text: str) -> Worker:
    from bot.services import Worker

    index, _, count = text.partition("/")
    try:
        worker = Worker(int(index), int(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not INDEX/COUNT, e.g. 0/2") from None
    if not 0 <= worker.index < worker.count:
        raise argparse.ArgumentTypeError(f"{text!r} is not INDEX/COUNT, e.g. 0/2")
    return worker


def _add_db(commands: Commands) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("upgrade", help="apply migrations up to the newest")
    backup = actions.add_parser(
        "backup", help="copy a SQLite database to PATH, safely while serve runs (mode 0600)"
    )
    backup.add_argument("path", type=Path, help="a new file for the copy")
    prune = actions.add_parser(
        "prune", help="delete rows past their retention (retention.* in the config)"
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")


def _add_registry(commands: Commands) -> None:
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

    status = commands.add_parser(
        "status", help="verification status of passes (R7)", formatter_class=HelpFormatter
    )
    status.add_argument("pass_no", nargs="*", help="only these pass numbers")
    status.add_argument("--company", help="only this company's passes (as in the registry)")
    status.add_argument(
        "--state",
        type=_state,
        metavar="STATE",
        help="only passes in this state: {state_words}",
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


def _state(word: str) -> Status:
    """``--state`` takes what people see: 已驗證, verified, 待驗證, pending, …"""
    from core.status import status_from_word, status_words

    status = status_from_word(word)
    if status is None:
        raise argparse.ArgumentTypeError(
            f"{word!r} is not a state; use one of: " + "; ".join(status_words())
        )
    return status


def _add_chat(commands: Commands) -> None:
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
        "--url",
        help="where the server listens (default: http://<server.host>:<server.port>); "
        "each message is signed for this URL unless server.public_base_url is set",
    )
