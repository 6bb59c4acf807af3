"""``portpass campaign``: plan, start and follow the verification SMS to every holder.

``create`` prints the plan (recipients, skips with their reasons, segments and cost)
and, unless ``--dry-run``, stores the campaign as ``planned``; ``start`` hands it to
``portpass serve``, whose dispatcher sends it. The other actions change its state or
read its progress. Every action is in the audit log.

A bad option gets one message, in Traditional Chinese and English, saying what is
expected; nothing is stored.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TextIO

from bot.bootstrap import services_for
from bot.cli.campaign_report import print_report
from bot.cli.campaign_views import print_list, print_plan, print_progress
from bot.cli.database import require_database
from bot.cli.subcommands import CAMPAIGN_ACTIONS
from bot.config import Config
from core import messages
from core.campaigns.model import CampaignSpec, Selection
from core.campaigns.options import (
    InvalidCampaignId,
    InvalidReminders,
    check_name,
    parse_duration,
    parse_pass_prefix,
    parse_rate,
    parse_states,
)
from core.campaigns.schedule import DEFAULT_WINDOW, Window
from core.campaigns.service import CampaignService
from core.errors import PortPassError


def spec_from_args(args: argparse.Namespace, config: Config) -> CampaignSpec:
    """The options, checked: the first wrong one raises with what it expects."""
    name = check_name(args.name)
    selection = Selection(
        companies=tuple(dict.fromkeys(c.strip() for c in args.company if c.strip())),
        states=parse_states(args.state),
        pass_prefixes=tuple(dict.fromkeys(parse_pass_prefix(p) for p in args.pass_prefix)),
    )
    window = Window.parse(args.window) if args.window is not None else DEFAULT_WINDOW
    rate = parse_rate(args.rate) if args.rate is not None else config.sms.max_per_second
    remind_after = parse_duration(args.remind_after) if args.remind_after else None
    reminders = _reminders(args.reminders, default=1 if remind_after else 0)
    return CampaignSpec(name, selection, window, rate, remind_after, reminders)


def _reminders(raw: str | None, *, default: int) -> int:
    if raw is None:
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidReminders(option="--reminders", got=raw) from None


def campaign_id(raw: str) -> int:
    try:
        value = int(raw.strip().lstrip("#"))
    except ValueError:
        raise InvalidCampaignId(option="ID", got=raw) from None
    if value < 1:
        raise InvalidCampaignId(option="ID", got=raw)
    return value


@asynccontextmanager
async def open_campaigns(config: Config) -> AsyncIterator[CampaignService]:
    """The campaign service on the configured database, migrated to head."""
    async with services_for(config) as services:
        yield services.campaigns


def print_error(error: PortPassError, err: TextIO) -> None:
    """Traditional Chinese first, then English."""
    err.write(f"portpass: {messages.render_error(error, messages.ZH)}\n")
    err.write(f"portpass: {messages.render_error(error, messages.EN)}\n")


async def run_campaign(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout
    try:
        command = args.campaign_command
        spec = spec_from_args(args, config) if command == "create" else None
        wanted = campaign_id(args.id) if command not in ("create", "list") else 0
        if command != "create":  # every other action reads a stored campaign
            require_database(config)
        async with open_campaigns(config) as service:
            if spec is not None:
                plan = await service.create(
                    spec,
                    dry_run=args.dry_run,
                    show=lambda plan: print_plan(plan, config.sms.max_per_second, out),
                )
                if plan.campaign_id is not None:
                    out.write(
                        f"\nstored as campaign {plan.campaign_id} (planned). "
                        f"Start it with: portpass campaign start {plan.campaign_id}\n"
                    )
                return 0
            if command in CAMPAIGN_ACTIONS:
                changed = await getattr(service, command)(wanted)
                out.write(f"campaign {changed.id}: {changed.state.value}\n")
                if command == "start":
                    out.write(
                        "portpass serve sends it; follow it with: "
                        f"portpass campaign watch {changed.id}\n"
                    )
                return 0
            if command == "list":
                print_list(await service.summaries(), out)
                return 0
            if command == "show":
                print_progress(await service.progress(wanted), out)
                return 0
            if command == "watch":
                from bot.cli.campaign_watch import watch

                return await watch(service, wanted, interval=max(0.1, args.interval))
            campaign, rows = await service.report(wanted)
            data = print_report(campaign, rows, args.format, out)
            if data is not None:
                out.flush()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            return 0
    except PortPassError as error:
        print_error(error, sys.stderr)
        return 2
