"""``portpass operator``: operator accounts from the admin CLI.

``add`` prints the one-time link code, the only time it is ever shown: only its keyed
hash is stored, under the same secret key the server uses (the services come from the
same composition root, :func:`bot.bootstrap.services_for`), so a code made here links
in the running bot. The code is typed as ``/link CODE`` in a private chat with the bot.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime

from bot.bootstrap import services_for
from bot.cli.database import missing_sqlite_file, require_database, say_which
from bot.config import Config
from bot.telegram.menus import remove_operator_menu_from_cli
from core import messages
from core.clock import TAIPEI
from core.errors import PortPassError
from core.operators.accounts import LinkCode, OperatorAccount
from core.operators.lifecycle import OperatorLifecycle
from storage.uow import SqlUnitOfWorkFactory


async def run_operator(args: argparse.Namespace, config: Config) -> int:
    adding = args.operator_command == "add"
    if not adding:  # list, revoke, code: an operator must be stored already
        require_database(config)
    new = missing_sqlite_file(config) is not None
    try:
        async with services_for(config) as services:
            if adding:
                await say_which(config, services.engine, new=new)
            service, uow = services.operator_lifecycle, services.uow
            if args.operator_command == "add":
                return await _add(service, uow, args)
            if args.operator_command == "list":
                _print_list(await service.list_operators())
                return 0
            if args.operator_command == "revoke":
                return await _revoke(service, uow, args.id, config)
            link = await service.new_link_code(args.id)
            _print_code(link)
            return 0
    except PortPassError as error:
        print(f"portpass: {messages.render_error(error, messages.EN)}", file=sys.stderr)
        return 1


async def _add(
    service: OperatorLifecycle, uow: SqlUnitOfWorkFactory, args: argparse.Namespace
) -> int:
    account, link = await service.add_operator(args.name, args.company, is_admin=args.admin)
    scope = "admin: sees every company" if account.is_admin else "sees this company's passes"
    print(f"operator {account.id} added: {account.name}, {account.company} ({scope})")
    _print_code(link)
    if not account.is_admin and not await _company_has_passes(uow, account.company):
        print(
            f"warning: no pass in the registry belongs to company {account.company!r} yet; "
            "check the spelling against the registry's company column",
            file=sys.stderr,
        )
    return 0


async def _company_has_passes(uow: SqlUnitOfWorkFactory, company: str) -> bool:
    """A misspelt company gives an operator who sees nothing: worth a warning."""
    async with uow() as work:
        counts = await work.passes.count_by_status(company=company)
    return sum(counts.values()) > 0


async def _revoke(
    service: OperatorLifecycle, uow: SqlUnitOfWorkFactory, operator_id: str, config: Config
) -> int:
    async with uow() as work:
        before = await work.operators.get(operator_id.strip().lower())
    account = await service.revoke(operator_id)
    if before is not None and before.is_revoked:
        print(f"operator {account.id} was already revoked on {_when(account.revoked_at)}")
        return 0
    print(f"operator {account.id} revoked: Telegram unlinked, link code cancelled")
    chat = before.telegram_user_id if before is not None else None
    # A private chat's id is the user's id: their operator menu goes now.
    if (
        chat
        and chat.lstrip("-").isdigit()
        and await remove_operator_menu_from_cli(config.telegram, int(chat))
    ):
        print("their Telegram command menu no longer shows operator commands")
    return 0


def _print_code(link: LinkCode) -> None:
    print(f"link code: {link.code} (valid until {_when(link.expires_at)} Taipei time, once)")
    print("To link a Telegram account, send this in a private chat with the bot:")
    print(f"  /link {link.code}")


def _print_list(accounts: Sequence[OperatorAccount]) -> None:
    if not accounts:
        print("no operators yet: portpass operator add --name NAME --company COMPANY")
        return
    header = ("ID", "NAME", "COMPANY", "ADMIN", "LINKED", "REVOKED")
    rows = [
        (
            a.id,
            a.name,
            a.company,
            "yes" if a.is_admin else "no",
            "yes" if a.is_linked else "no",
            _when(a.revoked_at) if a.revoked_at else "no",
        )
        for a in accounts
    ]
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True)]
        print("  ".join(cells).rstrip())
    print(  # on stderr: a script reading the table gets the table only
        "ID is the operator's id, a hex string: "
        "portpass operator revoke ID, portpass operator code ID",
        file=sys.stderr,
    )


def _when(at: datetime | None) -> str:
    return at.astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M") if at else ""


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
