"""How far a campaign has got: the counts ``campaign show``, ``watch`` and ``report``
print, per company and in total, and the ETA.

Storage counts (one query grouped by company); this module adds them up and derives
the figures an admin reads: the measured rate, the verification rate, and when the
queue will be empty given the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from core.campaigns.model import Campaign, CampaignState, SkipReason

#: The measured rate is taken over this much of the recent past.
RATE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Tally:
    """One company's counts (or the sum of all). Targets, not SMS, unless named so."""

    company: str
    selected: int = 0  # every pass the selection found
    excluded: int = 0  # skipped when planned
    queued: int = 0  # waiting for their first SMS
    sent: int = 0  # had at least one SMS queued
    sms: int = 0  # SMS queued in all, reminders included
    waiting: int = 0  # latest SMS still in the outbox (pending or being sent)
    accepted: int = 0  # latest SMS taken by the provider, no final status yet
    delivered: int = 0
    failed: int = 0  # latest SMS failed or undelivered
    skipped: int = 0  # skipped when their turn came
    opted_out: int = 0  # skipped as opted out, or opted out after their SMS
    verified: int = 0  # verified since the campaign started
    reminders_due: int = 0  # sent targets still owed a reminder
    recent: int = 0  # SMS queued within RATE_WINDOW
    failed_by_error: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[SkipReason, int] = field(default_factory=dict)
    excluded_by_reason: dict[SkipReason, int] = field(default_factory=dict)

    @property
    def targeted(self) -> int:
        return self.selected - self.excluded

    @property
    def verified_rate(self) -> float:
        return self.verified / self.targeted if self.targeted else 0.0

    @property
    def reminders_sent(self) -> int:
        return self.sms - self.sent


def total(rows: list[Tally]) -> Tally:
    """The sum of the companies' tallies."""
    sums: dict[str, object] = {}
    for spec in fields(Tally):
        if spec.name == "company":
            continue
        values = [getattr(r, spec.name) for r in rows]
        if spec.name in ("failed_by_error", "skipped_by_reason", "excluded_by_reason"):
            merged: dict[object, int] = {}
            for value in values:
                for key, count in value.items():
                    merged[key] = merged.get(key, 0) + count
            sums[spec.name] = merged
        else:
            sums[spec.name] = sum(values)
    return Tally("", **sums)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Progress:
    campaign: Campaign
    totals: Tally
    now: datetime
    effective_rate: float  # the campaign's rate, capped by sms.max_per_second
    next_reminder_at: datetime | None = None

    @property
    def measured_rate(self) -> float:
        """SMS per second over the last minute (or since the start, if sooner); for a
        finished campaign, its first SMS over the whole run, since it has no "last
        minute" any more. A span under a second counts as one: 200 SMS queued in a
        millisecond are not 200,000 a second."""
        started = self.campaign.started_at
        if started is None:
            return 0.0
        finished = self.campaign.finished_at
        if finished is not None:
            return self.totals.sent / max((finished - started).total_seconds(), 1.0)
        span = min(RATE_WINDOW, self.now - started).total_seconds()
        return self.totals.recent / max(span, 1.0) if span >= 0 else 0.0

    @property
    def window_open(self) -> bool:
        return self.campaign.spec.window.contains(self.now)

    def eta(self) -> datetime | None:
        """When the last first SMS should be queued, counting only window hours
        (``None`` when nothing is left or the campaign is not going to send)."""
        if self.totals.queued == 0 or self.effective_rate <= 0:
            return None
        if self.campaign.state not in (CampaignState.RUNNING, CampaignState.PLANNED):
            return None
        seconds = self.totals.queued / self.effective_rate
        # For a planned campaign: when it would end if started now.
        return self.campaign.spec.window.finish_time(self.now, seconds)


def format_span(seconds: float) -> str:
    """``2 h 05 min``, ``8 min 20 s``, ``12 s``."""
    if not math.isfinite(seconds):
        return "—"
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
