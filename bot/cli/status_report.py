"""``portpass status``: the guide's operator table (R10 columns) and counts per status.

The table and the JSON also say when a pass's latest verification SMS did not arrive
(「簡訊未送達 (30003)」), so an operator can tell a holder who never got
the code from one who ignored it.

``--format csv`` is the same file as Telegram's ``/export``
(:func:`core.operators.views.export_csv`): it is opened in Excel, so it carries a
byte-order mark, CRLF line ends, Chinese headers unless ``--headers en``, and no cell a
spreadsheet would run as a formula.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from core import messages
from core.model import PassRecord, Status
from core.operators.views import export_csv, export_row, status_text
from core.ports import UnitOfWorkFactory
from core.status import status_of
from core.values import PassNumber
from core.verification.delivery import DeliveryProblem


def as_row(
    record: PassRecord, *, opted_out: bool = False, problem: DeliveryProblem | None = None
) -> dict[str, Any]:
    """One pass as plain strings; phones in the national form people read.
    ``opted_out``: ``yes`` when the phone on file opted out of SMS (已退訂); ``last_sms``
    the problem with its latest verification SMS, or ``None``."""
    return {
        "pass_no": record.pass_no.value,
        "id_no": record.id_no.value,
        "name": record.name or "",
        "phone": record.phone.display if record.phone else "",
        "verified_phone": record.verified_phone.display if record.verified_phone else "",
        "status": status_of(record).value,
        "opted_out": "yes" if opted_out else "no",
        "company": record.company,
        "last_sms": (
            {"state": problem.state.value, "error_code": problem.error_code}
            if problem is not None
            else None
        ),
    }


async def print_status(
    uow: UnitOfWorkFactory,
    pass_nos: Sequence[PassNumber] | None,
    *,
    company: str | None,
    state: Status | None,
    fmt: str,
    headers: str = "zh",
    out: TextIO | None = None,
) -> int:
    """Print the table; the exit code: 1 when ``company`` names no company at all (a
    typo would otherwise look like a company with nothing to do)."""
    stream = out or sys.stdout
    async with uow() as work:
        records = await work.passes.list(company=company, status=state, pass_nos=pass_nos)
        problems = await work.outbox.delivery_problems(pass_nos)
        if (
            company is not None
            and not records
            and not await work.passes.list(company=company, limit=1)
        ):
            print(
                f"portpass: no company {company!r} in the registry (the name must match the "
                "registry's company column exactly)",
                file=sys.stderr,
            )
            return 1
        opted_out = await work.opt_outs.among(r.phone for r in records if r.phone)
    rows = [
        as_row(r, opted_out=r.phone in opted_out, problem=problems.get(r.pass_no)) for r in records
    ]
    if fmt == "json":
        json.dump(rows, stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "csv":
        language = messages.EN if headers == "en" else messages.ZH
        table = [export_row(r, opted_out=r.phone in opted_out) for r in records]
        write_bytes(stream, export_csv(table, language))
    else:
        write_table(rows, stream, {p.value: x.describe() for p, x in problems.items()})
    if pass_nos:
        missing = sorted({p.value for p in pass_nos} - {r["pass_no"] for r in rows})
        for value in missing:
            print(f"not found: {value}", file=sys.stderr)
    return 0


def write_bytes(stream: TextIO, data: bytes) -> None:
    """Bytes as they are (the CSV's byte-order mark and CRLF must reach the file
    unchanged), through the text stream's buffer when it has one."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode("utf-8"))
        return
    buffer.write(data)
    buffer.flush()


def write_table(
    rows: list[dict[str, Any]], stream: TextIO, problems: Mapping[str, str] | None = None
) -> None:
    """The guide's columns with 是否驗證 in Chinese, the problem with the pass's last
    verification SMS if any (``problems`` by pass number), then counts per status."""
    problems = problems or {}
    header = ("通行證號", "身分證號", "姓名", "手機號碼", "已驗證手機號碼", "是否驗證", "簡訊狀態")
    body = [
        (
            r["pass_no"],
            r["id_no"],
            r["name"],
            r["phone"],
            r["verified_phone"],
            status_text(Status(r["status"]), r["opted_out"] == "yes"),
            problems.get(r["pass_no"], ""),
        )
        for r in rows
    ]
    widths = [max(_width(x) for x in column) for column in zip(header, *body, strict=True)]
    for line in (header, *body):
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=True)]
        stream.write("  ".join(cells).rstrip() + "\n")
    counts = {s: sum(1 for r in rows if r["status"] == s.value) for s in Status}
    opted_out = sum(1 for r in rows if r["opted_out"] == "yes")
    stream.write(
        "\n"
        + "  ".join(f"{messages.text(f'status.{s.value}')} {n}" for s, n in counts.items())
        + f"  合計 {len(rows)}"
        + (f"  已退訂 {opted_out}" if opted_out else "")
        + "\n"
    )


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
