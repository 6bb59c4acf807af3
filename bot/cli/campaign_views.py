"""What ``portpass campaign`` prints: the plan, the list, a campaign's progress and its
report per company (table, Excel-safe CSV or JSON). Pure formatting of core's values."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from core import messages
from core.campaigns.model import PLAN_REASONS, Campaign, CampaignState, Plan, SkipReason
from core.campaigns.options import format_duration
from core.campaigns.progress import Progress, Tally, format_span
from core.clock import TAIPEI


def when(at: datetime | None) -> str:
    return at.astimezone(TAIPEI).strftime("%Y/%m/%d %H:%M") if at else "—"


def reason_label(reason: SkipReason) -> str:
    return messages.text(f"campaign.reason.{reason.value}", messages.EN)


#: The plan table's column headings, short enough for a terminal.
_COLUMN = {
    SkipReason.NO_PHONE: "no phone (R6)",
    SkipReason.OPTED_OUT: "opted out",
    SkipReason.LIVE_REQUEST: "live code (R2)",
    SkipReason.NOT_TW_MOBILE: "not TW mobile",
}


def width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns padded to their widest cell; all but the first right-aligned (numbers)."""
    widths = [max(width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        cells = []
        for i, (cell, w) in enumerate(zip(line, widths, strict=True)):
            pad = " " * (w - width(cell))
            cells.append(cell + pad if i == 0 else pad + cell)
        out.write("  ".join(cells).rstrip() + "\n")


def _n(value: int) -> str:
    return f"{value:,}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _rate(value: float) -> str:
    return f"{value:g}/s"


def describe_selection(campaign_or_plan: Plan | Campaign) -> list[str]:
    spec = campaign_or_plan.spec
    chosen = spec.selection
    states = ", ".join(s.value for s in chosen.states)
    reminders = (
        f"{spec.reminders}, {format_duration(spec.remind_after)} after the last SMS"
        if spec.remind_after and spec.reminders
        else "none"
    )
    return [
        f"passes: {states}, valid on {campaign_or_plan.valid_on:%Y/%m/%d} (Taipei); "
        f"companies: {', '.join(chosen.companies) or 'all'}; "
        f"pass prefixes: {', '.join(chosen.pass_prefixes) or 'all'}",
        f"window: {spec.window} Taipei; rate: {_rate(spec.rate)}; reminders: {reminders}",
    ]


def print_plan(plan: Plan, max_per_second: float, out: TextIO) -> None:
    title = (
        "Campaign plan (dry run: nothing is stored)"
        if plan.campaign_id is None
        else f"Campaign {plan.campaign_id} plan"
    )
    out.write(f"{title}\nname: {plan.spec.name}\n")
    for line in describe_selection(plan):
        out.write(line + "\n")
    out.write("\n")
    header = ["company", "selected", "recipients", *(_COLUMN[r] for r in PLAN_REASONS)]
    rows = [
        [row.company, _n(row.selected), _n(row.recipients)]
        + [_n(row.skipped.get(r, 0)) for r in PLAN_REASONS]
        for row in plan.rows
    ]
    selected = sum(row.selected for row in plan.rows)
    rows.append(
        ["total", _n(selected), _n(plan.recipients)] + [_n(plan.skipped(r)) for r in PLAN_REASONS]
    )
    table(header, rows, out)
    out.write("\n")
    skipped = " · ".join(
        f"{reason_label(r)} {_n(plan.skipped(r))}" for r in PLAN_REASONS if plan.skipped(r)
    )
    out.write(
        f"recipients: {_n(plan.recipients)} of {_n(selected)} selected passes"
        + (f"; skipped {_n(plan.skipped_total)}: {skipped}" if skipped else "")
        + "\n"
    )
    cost = plan.cost
    out.write(
        f"SMS: {cost.segments_per_sms} segment{'s' if cost.segments_per_sms > 1 else ''} "
        f"each ({cost.encoding}), {_n(plan.segments)} segments\n"
    )
    if cost.price_per_segment > 0:
        line = (
            f"estimated cost: {plan.price:,.2f} {cost.currency} at "
            f"{cost.price_per_segment:g} {cost.currency} per segment"
        )
        if plan.spec.reminders:
            line += f"; reminders up to {plan.reminder_price_max:,.2f} {cost.currency} more"
        out.write(line + "\n")
    else:
        out.write(
            "estimated cost: unknown (set sms.price_per_segment and sms.currency in the config)\n"
        )
    rate = min(plan.spec.rate, max_per_second)
    if plan.spec.rate > max_per_second:
        out.write(
            f"note: rate {_rate(plan.spec.rate)} is above sms.max_per_second "
            f"({_rate(max_per_second)}): it will send at most {_rate(max_per_second)}\n"
        )
    out.write(
        f"sending time at {_rate(rate)}: {format_span(plan.send_seconds(rate))} of window time\n"
    )
    out.flush()  # shown before it is stored


def print_list(summaries: list[tuple[Campaign, int, int]], out: TextIO) -> None:
    if not summaries:
        out.write("no campaigns yet: portpass campaign create --name NAME --dry-run\n")
        return
    header = ["ID", "NAME", "STATE", "TARGETED", "SENT", "WINDOW", "RATE", "CREATED"]
    rows = [
        [
            str(c.id),
            c.name,
            c.state.value,
            _n(targeted),
            _n(sent),
            str(c.spec.window),
            _rate(c.spec.rate),
            when(c.created_at),
        ]
        for c, targeted, sent in summaries
    ]
    _left_table(header, rows, out)


def _left_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        cells = [c + " " * (w - width(c)) for c, w in zip(line, widths, strict=True)]
        out.write("  ".join(cells).rstrip() + "\n")


def state_line(progress: Progress) -> str:
    """``running; window open until 21:00`` and the like."""
    campaign, now = progress.campaign, progress.now
    state = campaign.state.value
    if campaign.state is not CampaignState.RUNNING:
        return state
    window = campaign.spec.window
    if window.always_open:
        return f"{state}; window always open"
    if window.contains(now):
        return f"{state}; window open until {when(window.closes_at(now))[-5:]} Taipei"
    return f"{state}; outside the window: resumes {when(window.next_open(now))} Taipei"


def print_progress(progress: Progress, out: TextIO) -> None:
    c, t = progress.campaign, progress.totals
    out.write(f"campaign {c.id}: {c.name} — {state_line(progress)}\n")
    out.write(
        f"created {when(c.created_at)} · started {when(c.started_at)}"
        + (f" · finished {when(c.finished_at)}" if c.finished_at else "")
        + "\n"
    )
    for line in describe_selection(c):
        out.write(line + "\n")
    excluded = " · ".join(f"{reason_label(r)} {_n(n)}" for r, n in t.excluded_by_reason.items())
    skipped = " · ".join(f"{reason_label(r)} {_n(n)}" for r, n in t.skipped_by_reason.items())
    lines = [
        (
            "targeted",
            _n(t.targeted),
            f"skipped when planned {_n(t.excluded)}" + (f": {excluded}" if excluded else ""),
        ),
        ("queued", _n(t.queued), "waiting for their first SMS"),
        (
            "sent",
            _n(t.sent),
            f"{_n(t.sms)} SMS with reminders; in the outbox {_n(t.waiting)}"
            f" · accepted {_n(t.accepted)}",
        ),
        ("delivered", _n(t.delivered), ""),
        ("failed", _n(t.failed), _errors(t)),
        ("skipped", _n(t.skipped), skipped),
        ("opted out", _n(t.opted_out), ""),
        ("verified", _n(t.verified), f"{_pct(t.verified_rate)} of targeted, since the start"),
        (
            "rate",
            f"{progress.measured_rate:.1f}/s",
            f"over the last minute; set {_rate(c.spec.rate)}, "
            f"sending at most {_rate(progress.effective_rate)}",
        ),
    ]
    if c.spec.reminders and c.spec.remind_after:
        due = f"; next {when(progress.next_reminder_at)}" if progress.next_reminder_at else ""
        lines.append(
            (
                "reminders",
                _n(t.reminders_sent),
                f"sent; {c.spec.reminders} after {format_duration(c.spec.remind_after)}, "
                f"{_n(t.reminders_due)} passes still owed one{due}",
            )
        )
    eta = progress.eta()
    if eta is not None:
        lines.append(
            ("ETA", when(eta), f"Taipei ({format_span((eta - progress.now).total_seconds())})")
        )
    label_width = max(width(label) for label, _, _ in lines)
    value_width = max(width(value) for _, value, _ in lines)
    for label, value, note in lines:
        text = f"{label:<{label_width}}  {value:>{value_width}}  {note}".rstrip()
        out.write(text + "\n")


def _errors(t: Tally) -> str:
    return " · ".join(f"{code} ×{_n(n)}" for code, n in sorted(t.failed_by_error.items()))
