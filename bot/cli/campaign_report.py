"""``portpass campaign report``: per company, targeted, sent, delivered, failed (by
error code), opted out, verified since the start and the verification rate, as a table,
JSON, or CSV that Excel opens right (:func:`core.spreadsheet.excel_csv`: UTF-8 with a
BOM, CRLF, formula cells kept as text, as the operators' ``/export``)."""

from __future__ import annotations

import json
from typing import TextIO

from bot.cli.campaign_views import table
from core.campaigns.model import Campaign
from core.campaigns.progress import Tally, total
from core.spreadsheet import excel_csv

REPORT_COLUMNS = (
    "company",
    "targeted",
    "sent",
    "delivered",
    "failed",
    "failed_by_error",
    "opted_out",
    "verified_since_start",
    "verified_rate",
)


def report_rows(rows: list[Tally]) -> list[dict[str, object]]:
    def one(t: Tally, company: str) -> dict[str, object]:
        return {
            "company": company,
            "targeted": t.targeted,
            "sent": t.sent,
            "delivered": t.delivered,
            "failed": t.failed,
            "failed_by_error": dict(sorted(t.failed_by_error.items())),
            "opted_out": t.opted_out,
            "verified_since_start": t.verified,
            "verified_rate": round(t.verified_rate, 4),
        }

    return [one(t, t.company) for t in rows] + [one(total(rows), "total")]


def print_report(campaign: Campaign, rows: list[Tally], fmt: str, out: TextIO) -> bytes | None:
    """The report as text on ``out``, or (CSV) as bytes for the caller to write."""
    data = report_rows(rows)
    if fmt == "json":
        document = {
            "campaign": {
                "id": campaign.id,
                "name": campaign.name,
                "state": campaign.state.value,
                "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
            },
            "companies": data[:-1],
            "total": data[-1],
        }
        json.dump(document, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return None
    cells = [[_cell(row[c]) for c in REPORT_COLUMNS] for row in data]
    if fmt == "csv":
        return excel_csv(list(REPORT_COLUMNS), cells)
    out.write(f"campaign {campaign.id}: {campaign.name} ({campaign.state.value})\n\n")
    header = [
        "company",
        "targeted",
        "sent",
        "delivered",
        "failed",
        "failed by error",
        "opted out",
        "verified",
        "rate",
    ]
    table(header, cells, out)
    return None


def _cell(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)
