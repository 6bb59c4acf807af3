"""What an admin types for ``portpass campaign create``, checked: the errors that say
what each option expects (in both languages, :mod:`core.messages`), and the parsers of
durations, rates, states, pass prefixes and names. Full-width input (NFKC) is accepted,
as everywhere else."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import timedelta

from core.errors import InvalidInput
from core.model import Status


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
    days, minutes = divmod(minutes, 24 * 60)
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
