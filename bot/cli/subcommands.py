"""The options of the command groups ``operator``, ``notices`` and ``campaign``, for
:func:`bot.cli.parser.build_parser`. Standard library only, as the parser: the code that
runs each group (:mod:`bot.cli.operator`, :mod:`bot.cli.notices`,
:mod:`bot.cli.campaign`) is imported when one of its actions runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.lazy_help import HelpFormatter

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

#: The campaign actions that change its state, each taking the campaign's id.
CAMPAIGN_ACTIONS = ("start", "pause", "resume", "cancel")

OPERATOR_ID_HELP = (
    "operator id: the hex string in the ID column of 'portpass operator list', e.g. 3f2a9c41"
)


def add_operator_parser(commands: Commands) -> None:
    operator = commands.add_parser(
        "operator",
        help="operator accounts (業者申請人) and link codes",
        description="Operator accounts. Each has an id, a hex string shown in the ID column "
        "of 'portpass operator list' and by 'operator add'; revoke and code take it.",
    )
    actions = operator.add_subparsers(dest="operator_command", required=True, metavar="ACTION")

    add = actions.add_parser(
        "add", help="create an operator, print its id and a one-time link code"
    )
    add.add_argument("--name", required=True, help="the operator's name")
    add.add_argument(
        "--company", required=True, help="the company whose passes they see, as in the registry"
    )
    add.add_argument("--admin", action="store_true", help="sees the passes of every company")

    actions.add_parser(
        "list",
        help="list operators with their ids (hex strings, for revoke and code): "
        "admin, linked, revoked",
    )

    revoke = actions.add_parser("revoke", help="revoke an operator and unlink their Telegram")
    revoke.add_argument("id", help=OPERATOR_ID_HELP)

    code = actions.add_parser("code", help="issue a new link code (the old one stops working)")
    code.add_argument("id", help=OPERATOR_ID_HELP)


def add_notices_parser(commands: Commands) -> None:
    notices = commands.add_parser("notices", help="notices of suspended and reinstated passes")
    actions = notices.add_subparsers(dest="notices_command", required=True, metavar="ACTION")

    imp = actions.add_parser("import", help="store gate events from a CSV file and notify")
    imp.add_argument(
        "file", type=Path, help="events CSV: event_id, pass_no, kind, occurred_at[, detail]"
    )
    imp.add_argument("--dry-run", action="store_true", help="check and report, store nothing")

    listing = actions.add_parser("list", help="notices, newest first (every company)")
    listing.add_argument("--unreachable", action="store_true", help="only those not texted")
    listing.add_argument("--company", help="only this company's passes")
    listing.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default) for reading, csv for Excel, json for programs",
    )

    actions.add_parser(
        "token", help="make a bearer token for the gate system and print its SHA-256 for config"
    )


def add_campaign_parser(commands: Commands) -> None:
    campaign = commands.add_parser(
        "campaign", help="verification SMS to every holder not verified yet (campaigns)"
    )
    actions = campaign.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="select passes, print the plan, and store it as planned",
        formatter_class=HelpFormatter,
    )
    create.add_argument("--name", required=True, help="a name to recognise it by")
    create.add_argument(
        "--company", action="append", default=[], help="only this company (repeatable)"
    )
    create.add_argument(
        "--state",
        default="unverified,pending",
        help="unverified, pending or both (default: unverified,pending)",
    )
    create.add_argument(
        "--pass-prefix",
        action="append",
        default=[],
        help="only pass numbers starting with this, e.g. KHPS113 (repeatable)",
    )
    create.add_argument(
        "--window", help="daily sending hours, Taipei time (default: {default_window})"
    )
    create.add_argument("--rate", help="SMS per second (default: sms.max_per_second)")
    create.add_argument(
        "--remind-after", help="remind passes still not verified after this long, e.g. 3d"
    )
    create.add_argument(
        "--reminders", help="how many reminders at most (default: 1 with --remind-after)"
    )
    create.add_argument("--dry-run", action="store_true", help="print the plan, store nothing")

    id_help = "campaign id (see 'portpass campaign list')"
    for action in CAMPAIGN_ACTIONS:
        sub = actions.add_parser(action, help=f"{action} a campaign")
        sub.add_argument("id", help=id_help)
    actions.add_parser("list", help="every campaign with its state and counts")
    show = actions.add_parser("show", help="a campaign's progress")
    show.add_argument("id", help=id_help)
    watch = actions.add_parser("watch", help="a live progress bar until done (Ctrl-C stops)")
    watch.add_argument("id", help=id_help)
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between updates")
    report = actions.add_parser("report", help="per company: sent, delivered, failed, verified")
    report.add_argument("id", help=id_help)
    report.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default), csv for Excel (UTF-8 with BOM), or json",
    )
