"""``portpass notices``: gate events from a CSV file, the admins' list of notices, and
bearer tokens for the gate system's API.

``import`` takes the same fields as ``POST /api/v1/notices``, checks every row, and
stores nothing unless all are valid; an event already stored (by the API or an earlier
import of the same file) is counted, not stored again. The SMS it queues go out through
the outbox of ``portpass serve`` (which polls for rows written by other processes), and
so do the Telegram messages.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import secrets
import sys
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from bot.bootstrap import database_for, make_notice_service
from bot.cli.database import require_database
from bot.config import Config
from core import messages
from core.clock import TAIPEI, SystemClock
from core.model import Channel
from core.notices.csv_file import BadHeader, EventRows, read_event_rows
from core.notices.events import EventProblem, InvalidEvents, TooManyEvents
from core.notices.records import Notice, NoticeResult, Reach, Source
from core.notices.service import NoticeService
from core.notices.texts import kind_text, state_text
from core.spreadsheet import excel_csv

#: A file may hold more events than one API request (it is checked as a whole first).
MAX_FILE_EVENTS = 100_000
MAX_PRINTED_ERRORS = 1000
COLUMNS = (
    "received_at",
    "occurred_on",
    "pass_no",
    "company",
    "kind",
    "state",
    "reason",
    "telegram_chats",
    "event_id",
    "detail",
)


@asynccontextmanager
async def open_notice_service(config: Config, *, max_events: int) -> AsyncIterator[NoticeService]:
    """The notice use cases on the configured database (the composition root's)."""
    async with database_for(config) as database:
        yield make_notice_service(config, database.uow, SystemClock(), max_events=max_events)


async def run_notices(args: argparse.Namespace, config: Config) -> int:
    if args.notices_command == "token":
        print_token(sys.stdout)
        return 0
    if args.notices_command == "import":
        return await _import(args, config)
    require_database(config)  # list only reads
    async with open_notice_service(config, max_events=MAX_FILE_EVENTS) as service:
        found = await service.list_all(company=args.company, unreachable_only=args.unreachable)
    write_notices(found, args.format, sys.stdout)
    return 0


def print_token(out: TextIO) -> None:
    """A new random token (shown once) and the digest the config keeps instead."""
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    out.write(
        f"token:  {token}\n"
        "        give it to the gate system (Authorization: Bearer TOKEN); it is not kept\n"
        "        anywhere and cannot be shown again.\n"
        f"sha256: {digest}\n\n"
        "Add the digest to config.toml (keep older digests in the list while you rotate):\n"
        f'[notices]\napi_token_sha256 = ["{digest}"]\n'
    )


def _read_file(path: Path) -> EventRows | int:
    """The file's rows, or the exit code after saying what is wrong with the file.
    (A CLI command: reading the file before the event loop has anything else to do.)"""
    if not path.is_file():
        print(f"portpass: no such file: {path}", file=sys.stderr)
        return 2
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            return read_event_rows(handle)
        except BadHeader as error:
            print(f"{path}: line 1: {_both(error.problem)}", file=sys.stderr)
        except UnicodeDecodeError:
            print(f"{path}: the file is not UTF-8 text (save it as CSV UTF-8)", file=sys.stderr)
        except csv.Error as error:
            print(f"{path}: not a CSV file ({error})", file=sys.stderr)
    return 1


async def _import(args: argparse.Namespace, config: Config) -> int:
    path: Path = args.file
    rows = _read_file(path)
    if isinstance(rows, int):
        return rows
    async with open_notice_service(config, max_events=MAX_FILE_EVENTS) as service:
        try:
            results = await service.receive(
                rows.items,
                source=Source.CSV,
                actor="cli",
                channel=Channel.CLI,
                positions=rows.lines,
                rejected_already=rows.rejected,
                dry_run=args.dry_run,
            )
        except TooManyEvents as error:
            print(f"{path}: {messages.render_error(error, messages.EN)}", file=sys.stderr)
            return 1
        except InvalidEvents as error:
            _print_rejected(path, error)
            return 1
    _print_summary(results, dry_run=args.dry_run)
    return 0


def _both(problem: EventProblem) -> str:
    """Traditional Chinese first, then English: the admin may read either."""
    zh = messages.text(problem.key, messages.ZH, **problem.params)
    en = messages.text(problem.key, messages.EN, **problem.params)
    where = f"{problem.field}: " if problem.field else ""
    return f"{where}{zh} / {en}"


def _print_rejected(path: Path, error: InvalidEvents) -> None:
    lines = [
        f"{path}: line {rejected.position}: {_both(problem)}"
        for rejected in error.rejected
        for problem in rejected.problems
    ]
    for line in lines[:MAX_PRINTED_ERRORS]:
        print(line, file=sys.stderr)
    if len(lines) > MAX_PRINTED_ERRORS:
        print(f"{path}: … and {len(lines) - MAX_PRINTED_ERRORS} more problems", file=sys.stderr)
    print(
        f"nothing was stored: {messages.render_error(error, messages.EN)}",
        file=sys.stderr,
    )


def _print_summary(results: Sequence[NoticeResult], *, dry_run: bool) -> None:
    new = [r for r in results if not r.duplicate]
    reasons = Counter(r.reason.value for r in new if r.reason is not None)
    texted = sum(1 for r in new if r.reach is Reach.SMS)
    chats = sum(r.telegram_chats for r in new)
    why = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
    unreachable = sum(reasons.values())
    print(
        f"notices: {len(new)} new ({texted} texted, {unreachable} unreachable"
        + (f": {why}" if why else "")
        + f"; {chats} Telegram messages), {len(results) - len(new)} already stored"
    )
    if dry_run:
        print("dry run: nothing was stored")


def notice_row(notice: Notice, language: str = messages.ZH) -> dict[str, str]:
    return {
        "received_at": notice.received_at.astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M"),
        "occurred_on": notice.occurred_at.astimezone(TAIPEI).strftime("%Y/%m/%d"),
        "pass_no": notice.pass_no.value,
        "company": notice.company,
        "kind": kind_text(notice.kind, language),
        "state": state_text(notice, language),
        "reason": notice.reason.value if notice.reason else "",
        "telegram_chats": str(notice.telegram_chats),
        "event_id": notice.event_id,
        "detail": notice.detail or "",
    }


def _json_row(notice: Notice) -> dict[str, object]:
    return {
        "id": notice.id,
        "event_id": notice.event_id,
        "pass_no": notice.pass_no.value,
        "company": notice.company,
        "kind": notice.kind.value,
        "occurred_at": notice.occurred_at.isoformat(),
        "detail": notice.detail,
        "received_at": notice.received_at.isoformat(),
        "source": notice.source.value,
        "reach": notice.reach.value,
        "reason": notice.reason.value if notice.reason else None,
        "sms_state": notice.sms_state,
        "telegram_chats": notice.telegram_chats,
    }


def write_notices(notices: Sequence[Notice], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump([_json_row(n) for n in notices], out, ensure_ascii=False, indent=2)
        out.write("\n")
        return
    rows = [notice_row(n) for n in notices]
    header = [messages.text(f"notice.col.{column}") for column in COLUMNS]
    if fmt == "csv":
        data = excel_csv(header, [[row[c] for c in COLUMNS] for row in rows])
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:  # a StringIO in tests: the same text, BOM included
            out.write(data.decode("utf-8"))
        return
    shown = [c for c in COLUMNS if c not in ("reason", "detail")]
    write_aligned(
        [messages.text(f"notice.col.{c}") for c in shown],
        [[row[c] for c in shown] for row in rows],
        out,
    )
    out.write(f"\n{len(rows)} notices\n")


def write_aligned(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns padded to their widest cell, CJK characters counted as two columns."""
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True)]
        out.write("  ".join(cells).rstrip() + "\n")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
