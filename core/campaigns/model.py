"""Campaigns: the verification SMS to every holder who has not verified yet.

The port company's process is not one holder at a time: its notice announces one
verification SMS to every pass holder. A campaign selects passes (by default every pass
not verified and valid today), keeps them as targets, and ``portpass serve`` gives each
the ordinary verification request (R2/R3) at the moment its SMS is dispatched, inside a
daily window and at a set rate, so a 100,000-pass campaign at 10 SMS/s does not hand out
codes that expire before they arrive.

This module holds the campaign's values and rules, pure: its states, why a pass is
skipped, what was asked for, and what the plan costs. The options as typed are checked
in :mod:`core.campaigns.options`, the window and the pacing are in
:mod:`core.campaigns.schedule`, the use cases in :mod:`core.campaigns.service` and
:mod:`core.campaigns.dispatch`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.campaigns.options import MAX_REMINDERS, InvalidReminders, RemindersNeedDelay
from core.campaigns.schedule import DEFAULT_WINDOW, Window
from core.errors import PortPassError
from core.model import AuditEntry, Channel, Status
from core.values import Phone

# --- states --------------------------------------------------------------------------


class CampaignState(enum.StrEnum):
    PLANNED = "planned"  # stored with its targets; nothing sent until started
    RUNNING = "running"  # serve sends, inside the window
    PAUSED = "paused"  # stopped by an admin; resume goes on where it stopped
    CANCELLED = "cancelled"  # nothing more is sent
    DONE = "done"  # every target sent or skipped, every reminder sent


class TargetState(enum.StrEnum):
    """One selected pass. ``EXCLUDED`` passes were skipped when the plan was made and
    are kept, with their reason, so the report can say why they got nothing."""

    EXCLUDED = "excluded"
    QUEUED = "queued"  # waiting for its first SMS
    SENT = "sent"  # its request and SMS were made (reminders may follow)
    SKIPPED = "skipped"  # skipped when its turn came (e.g. verified meanwhile)


class SkipReason(enum.StrEnum):
    """Why a selected pass gets no campaign SMS."""

    NO_PHONE = "no_phone"  # R6: no phone on file
    OPTED_OUT = "opted_out"  # the phone replied STOP
    LIVE_REQUEST = "live_request"  # R2: a code for it is already live
    NOT_TW_MOBILE = "not_tw_mobile"  # the phone on file is not a Taiwanese mobile
    VERIFIED = "verified"  # verified between planning and sending
    NOT_VALID = "not_valid"  # the pass is no longer within its validity dates
    PASS_GONE = "pass_gone"  # noqa: S105 - the pass left the registry


#: The reasons a plan can give, in the order the plan lists them.
PLAN_REASONS = (
    SkipReason.NO_PHONE,
    SkipReason.OPTED_OUT,
    SkipReason.LIVE_REQUEST,
    SkipReason.NOT_TW_MOBILE,
)

#: The outbox ``kind`` of a campaign's SMS: the dispatcher's backpressure counts them.
SMS_KIND = "campaign"

#: A Taiwanese mobile in E.164: +886 9xx xxx xxx. Other regions may be allowed for
#: holders who ask themselves (``phone.allowed_regions``); a campaign texts only these.
TW_MOBILE_PREFIX, TW_MOBILE_LENGTH = "+8869", 13


def is_taiwan_mobile(phone: Phone) -> bool:
    return phone.e164.startswith(TW_MOBILE_PREFIX) and len(phone.e164) == TW_MOBILE_LENGTH


# --- errors --------------------------------------------------------------------------


class CampaignNotFound(PortPassError):
    key = "campaign.not_found"

    def __init__(self, *, campaign_id: int) -> None:
        super().__init__(campaign_id=campaign_id)
        self.campaign_id = campaign_id

    def params(self) -> dict[str, object]:
        return {"id": self.campaign_id}


class CampaignStateConflict(PortPassError):
    """``start`` on a running campaign, ``resume`` on a cancelled one, and the like."""

    key = "campaign.wrong_state"

    def __init__(self, *, campaign_id: int, state: CampaignState, action: str) -> None:
        super().__init__(campaign_id=campaign_id, state=state, action=action)
        self.campaign_id, self.state, self.action = campaign_id, state, action

    def params(self) -> dict[str, object]:
        return {"id": self.campaign_id, "state": self.state.value, "action": self.action}


@dataclass(frozen=True, slots=True)
class Selection:
    """Which passes a campaign is for; empty tuples mean "all"."""

    companies: tuple[str, ...] = ()
    states: tuple[Status, ...] = (Status.UNVERIFIED, Status.PENDING)
    pass_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What ``portpass campaign create`` was asked for, checked."""

    name: str
    selection: Selection = field(default_factory=Selection)
    window: Window = DEFAULT_WINDOW
    rate: float = 10.0
    remind_after: timedelta | None = None
    reminders: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.reminders <= MAX_REMINDERS:
            raise InvalidReminders(option="--reminders", got=str(self.reminders))
        if self.reminders and self.remind_after is None:
            raise RemindersNeedDelay(option="--reminders", got=str(self.reminders))

    def reminder_due(self, sends: int, now: datetime) -> datetime | None:
        """When a target that has had ``sends`` SMS needs the next one, if ever."""
        if self.remind_after is None or sends > self.reminders:
            return None
        return now + self.remind_after


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    spec: CampaignSpec
    state: CampaignState
    valid_on: date  # the Taipei day the passes were selected as valid on
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    paced_until: datetime | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Target:
    """A target due for an SMS: its first one (``sends == 0``) or a reminder."""

    pass_no: str
    sends: int
    request_id: str | None


# --- the plan --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One company's share of a plan."""

    company: str
    recipients: int
    skipped: dict[SkipReason, int]

    @property
    def selected(self) -> int:
        return self.recipients + sum(self.skipped.values())


@dataclass(frozen=True, slots=True)
class Cost:
    """What the plan's SMS cost: ``segments_per_sms`` from the real SMS text."""

    segments_per_sms: int
    encoding: str
    price_per_segment: float
    currency: str


@dataclass(frozen=True, slots=True)
class Plan:
    spec: CampaignSpec
    valid_on: date
    rows: tuple[PlanRow, ...]
    cost: Cost
    campaign_id: int | None = None  # None: a dry run, nothing stored

    @property
    def recipients(self) -> int:
        return sum(r.recipients for r in self.rows)

    def skipped(self, reason: SkipReason) -> int:
        return sum(r.skipped.get(reason, 0) for r in self.rows)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped(reason) for reason in SkipReason)

    @property
    def segments(self) -> int:
        return self.recipients * self.cost.segments_per_sms

    @property
    def price(self) -> float:
        return self.segments * self.cost.price_per_segment

    @property
    def reminder_price_max(self) -> float:
        """Reminders go only to passes still not verified: this is the most they cost."""
        return self.price * self.spec.reminders

    def send_seconds(self, rate: float) -> float:
        return self.recipients / rate if rate > 0 else math.inf


def plan_rows(counts: list[tuple[str, SkipReason | None, int]]) -> tuple[PlanRow, ...]:
    """``(company, reason or None for a recipient, count)`` rows, per company, in order."""
    recipients: dict[str, int] = {}
    skipped: dict[str, dict[SkipReason, int]] = {}
    for company, reason, count in counts:
        recipients.setdefault(company, 0)
        skipped.setdefault(company, {})
        if reason is None:
            recipients[company] += count
        else:
            skipped[company][reason] = skipped[company].get(reason, 0) + count
    return tuple(PlanRow(c, recipients[c], skipped[c]) for c in sorted(recipients))


def audit_entry(
    actor: str, action: str, campaign_id: int, at: datetime, **detail: str
) -> AuditEntry:
    """A campaign action for the audit log: the subject is the campaign, details masked."""
    return AuditEntry(
        at=at,
        actor=actor,
        channel=Channel.CLI,
        action=action,
        subject=f"campaign:{campaign_id}",
        detail=detail,
    )
