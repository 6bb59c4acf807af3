"""Campaigns: the verification SMS to every holder who has not verified yet (issue 9).

The port company's process is not one holder at a time: its notice announces one
verification SMS to every pass holder. A campaign selects passes (by default every pass
not verified and valid today), keeps them as targets, and ``portpass serve`` gives each
the ordinary verification request (R2/R3) at the moment its SMS is dispatched, inside a
daily window and at a set rate, so a 100,000-pass campaign at 10 SMS/s does not hand out
codes that expire before they arrive.

This module holds the campaign's values and rules, pure: what an admin types (window,
rate, reminder delay, selection), why a pass is skipped, how sending is paced, and what
the plan costs. The use cases are in :mod:`core.campaign_service`.
"""

from __future__ import annotations

import enum
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from core.clock import TAIPEI
from core.errors import InvalidInput, PortPassError
from core.model import Status
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
    OPTED_OUT = "opted_out"  # the phone replied STOP (issue 8)
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


# --- errors ----------------------------------------------------------------------------


class InvalidCampaignOption(InvalidInput):
    """An option of ``portpass campaign create`` that cannot be what was asked for."""

    key = "campaign.bad_option"

    def __init__(self, *, option: str, got: str) -> None:
        super().__init__(option=option, got=got)
        self.option, self.got = option, got

    def params(self) -> dict[str, object]:
        return {"option": self.option, "got": self.got}


class InvalidWindow(InvalidCampaignOption):
    key = "campaign.bad_window"


class InvalidRate(InvalidCampaignOption):
    key = "campaign.bad_rate"


class InvalidDuration(InvalidCampaignOption):
    key = "campaign.bad_duration"


class InvalidReminders(InvalidCampaignOption):
    key = "campaign.bad_reminders"


class RemindersNeedDelay(InvalidCampaignOption):
    key = "campaign.reminders_need_delay"


class InvalidStates(InvalidCampaignOption):
    key = "campaign.bad_states"


class InvalidPassPrefix(InvalidCampaignOption):
    key = "campaign.bad_prefix"


class InvalidCampaignName(InvalidCampaignOption):
    key = "campaign.bad_name"


class InvalidCampaignId(InvalidCampaignOption):
    key = "campaign.bad_id"


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


# --- the window ------------------------------------------------------------------------

_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_DAY = 24 * 60


def _minutes(raw: str) -> int | None:
    match = _CLOCK.match(raw.strip())
    if not match:
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    return minutes if minutes <= _DAY else None


@dataclass(frozen=True, slots=True)
class Window:
    """The daily hours (Taipei time) in which a campaign may send: ``start`` and ``end``
    in minutes after midnight. ``end`` before ``start`` runs overnight
    (``21:00-06:00``); ``00:00-24:00`` is always open."""

    start: int
    end: int

    @classmethod
    def parse(cls, raw: str) -> Window:
        text = unicodedata.normalize("NFKC", raw).replace(" ", "")
        start_text, dash, end_text = text.partition("-")
        start, end = _minutes(start_text), _minutes(end_text)
        if not dash or start is None or end is None or start in (end, _DAY):
            raise InvalidWindow(option="--window", got=raw)
        return cls(start, end)

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"

    @property
    def always_open(self) -> bool:
        return self.start == 0 and self.end == _DAY

    def _local(self, now: datetime) -> tuple[datetime, float]:
        local = now.astimezone(TAIPEI)
        midnight = datetime.combine(local.date(), time(), TAIPEI)
        return midnight, (local - midnight).total_seconds() / 60

    def contains(self, now: datetime) -> bool:
        _, minute = self._local(now)
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def next_open(self, now: datetime) -> datetime:
        """``now`` when open, else when the window next opens."""
        if self.contains(now):
            return now
        midnight, _ = self._local(now)
        opens = midnight + timedelta(minutes=self.start)
        return opens if opens > now else opens + timedelta(days=1)

    def closes_at(self, now: datetime) -> datetime | None:
        """When the window that is open at ``now`` closes (``None``: never)."""
        if self.always_open:
            return None
        midnight, minute = self._local(now)
        closes = midnight + timedelta(minutes=self.end)
        if self.start > self.end and minute >= self.start:
            closes += timedelta(days=1)
        return closes

    def finish_time(self, now: datetime, seconds: float) -> datetime:
        """When ``seconds`` of sending, done only inside the window, end (for an ETA)."""
        at, left = now, max(0.0, seconds)
        for _ in range(10_000):  # a day per turn at most: enough for any campaign
            at = self.next_open(at)
            closes = self.closes_at(at)
            if closes is None or at + timedelta(seconds=left) <= closes:
                return at + timedelta(seconds=left)
            left -= (closes - at).total_seconds()
            at = closes
        return at + timedelta(seconds=left)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


#: The window when none is given: no SMS at night.
DEFAULT_WINDOW = Window(9 * 60, 21 * 60)


# --- pacing ----------------------------------------------------------------------------


#: Rounding of timestamps to whole microseconds, with room to spare (see Pacer.allowance).
_SLACK_SECONDS = 5e-6


@dataclass(frozen=True, slots=True)
class Pacer:
    """A token bucket whose whole state is one timestamp, ``paced_until``, kept on the
    campaign's row: every serve instance paces the same campaign through it, so two
    instances together still send at most ``rate`` per second.

    ``paced_until`` is the time at which the bucket is empty; tokens accrue at ``rate``
    after it, up to ``burst``. The burst (a quarter of a second's worth, at least 2)
    absorbs a dispatcher that wakes a little late, so the long-run rate stays ``rate``.
    """

    rate: float
    burst: int

    @classmethod
    def for_rate(cls, rate: float) -> Pacer:
        return cls(rate, max(2, math.ceil(rate / 4)))

    def _empty_at(self, paced_until: datetime | None, now: datetime) -> datetime:
        if paced_until is None:  # never sent: one token, no burst at the start
            return now - timedelta(seconds=1 / self.rate)
        floor = now - timedelta(seconds=self.burst / self.rate)
        return max(paced_until, floor)

    def allowance(self, paced_until: datetime | None, now: datetime) -> int:
        """How many SMS may go at ``now``. Timestamps have microseconds: ``1/120`` s is
        stored as 8333 µs, a hair under one token, so a few microseconds of slack are
        allowed, or the dispatcher would wait for a token that never quite comes."""
        elapsed = (now - self._empty_at(paced_until, now)).total_seconds()
        slack = self.rate * _SLACK_SECONDS
        return max(0, min(self.burst, math.floor(elapsed * self.rate + slack)))

    def spend(self, paced_until: datetime | None, now: datetime, count: int) -> datetime:
        """``paced_until`` after ``count`` SMS went at ``now``."""
        return self._empty_at(paced_until, now) + timedelta(seconds=count / self.rate)

    def next_at(self, paced_until: datetime | None, now: datetime) -> datetime:
        """When the next SMS may go."""
        return max(now, self._empty_at(paced_until, now) + timedelta(seconds=1 / self.rate))


# --- options ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+)\s*([dhm])")
MIN_REMIND_AFTER = timedelta(hours=1)
MAX_REMIND_AFTER = timedelta(days=90)
MAX_REMINDERS = 5
MAX_RATE = 10_000.0
MAX_NAME = 100


def parse_duration(raw: str, option: str = "--remind-after") -> timedelta:
    """``3d``, ``36h``, ``1d12h``, ``90m``: between an hour and 90 days."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    parts = _DURATION_PART.findall(text)
    if not parts or _DURATION_PART.sub("", text).strip():
        raise InvalidDuration(option=option, got=raw)
    unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
    total = sum((int(n) * unit[u] for n, u in parts), timedelta())
    if not MIN_REMIND_AFTER <= total <= MAX_REMIND_AFTER:
        raise InvalidDuration(option=option, got=raw)
    return total


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration`: ``3d``, ``1d12h``, ``90m`` → ``1h30m``."""
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, _DAY)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


def parse_rate(raw: str) -> float:
    """SMS per second: a positive number up to 10,000."""
    try:
        rate = float(unicodedata.normalize("NFKC", raw).strip())
    except ValueError:
        raise InvalidRate(option="--rate", got=raw) from None
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE):
        raise InvalidRate(option="--rate", got=raw)
    return rate


_STATE_WORDS = {
    "unverified": Status.UNVERIFIED,
    "未驗證": Status.UNVERIFIED,
    "pending": Status.PENDING,
    "待驗證": Status.PENDING,
}


def parse_states(raw: str) -> tuple[Status, ...]:
    """``unverified,pending`` (or 未驗證,待驗證): a campaign is for passes not verified."""
    words = [w.strip().lower() for w in unicodedata.normalize("NFKC", raw).split(",")]
    if not any(words) or any(w not in _STATE_WORDS for w in words if w):
        raise InvalidStates(option="--state", got=raw)
    return tuple(dict.fromkeys(_STATE_WORDS[w] for w in words if w))


_PREFIX = re.compile(r"^[A-Z]{1,6}[0-9]{0,3}(-[0-9]{0,6})?$")


def parse_pass_prefix(raw: str) -> str:
    """The start of a pass number, e.g. ``KHPS`` or ``KHPS113``."""
    text = unicodedata.normalize("NFKC", raw).strip().upper()
    if not _PREFIX.match(text):
        raise InvalidPassPrefix(option="--pass-prefix", got=raw)
    return text


def check_name(raw: str) -> str:
    name = unicodedata.normalize("NFKC", raw).strip()
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidCampaignName(option="--name", got=raw)
    return name


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
