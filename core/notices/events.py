"""Gate events that become notices: what the gate system (or an admin's CSV) tells us
about a pass, checked field by field before anything is stored.

The port company suspends a pass after six months without a gate passage, or after two
abnormal entry/exit records in a month, and wants the holder told. An event names the
pass, what happened (:class:`NoticeKind`) and when; ``event_id`` is the sender's own
id, so the same event sent twice (a retry, a file imported again) becomes one notice.

Parsing is pure and collects every problem of every item, so a batch is refused with
the whole list of what to fix (and nothing stored), not one error at a time.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time, timedelta

from core.clock import TAIPEI
from core.errors import InvalidPassNumber, PortPassError
from core.values import PassNumber

#: Most events one request or one file may carry (the API's batch limit).
MAX_EVENTS = 10_000
MAX_EVENT_ID = 128
MAX_DETAIL = 500
#: An event may be dated a little ahead (clock skew between systems), not more.
FUTURE_SLACK = timedelta(days=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=TAIPEI)

FIELDS = ("event_id", "pass_no", "kind", "occurred_at", "detail")
REQUIRED = ("event_id", "pass_no", "kind", "occurred_at")

ROC_YEAR_OFFSET = 1911
_SLASH_DATE = re.compile(
    r"(\d{2,4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)


class NoticeKind(enum.StrEnum):
    """What happened to the pass, in the guide's words (the port company's rule)."""

    SUSPENDED_INACTIVE = "suspended_inactive"  # no gate passage for six months
    ABNORMAL_RECORD = "abnormal_record"  # one abnormal entry/exit record
    SUSPENDED_ABNORMAL = "suspended_abnormal"  # two abnormal records in a month
    REINSTATED = "reinstated"


KINDS = tuple(kind.value for kind in NoticeKind)


@dataclass(frozen=True, slots=True)
class NoticeEvent:
    """One checked event. ``occurred_at`` is aware; a date alone means Taipei midnight."""

    event_id: str
    pass_no: PassNumber
    kind: NoticeKind
    occurred_at: datetime
    detail: str | None = None

    @property
    def day(self) -> date:
        """The date the holder is told: the event's day in Taipei."""
        return self.occurred_at.astimezone(TAIPEI).date()


@dataclass(frozen=True, slots=True)
class EventProblem:
    """One thing wrong with one item: ``key`` names the message in
    :mod:`core.messages`, ``params`` fill it in (values shown back, shortened)."""

    field: str | None
    key: str
    params: Mapping[str, str] = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """An item that cannot be stored. ``position`` is its place in the batch (0-based)
    for the API, or its line number in a CSV file."""

    position: int
    event_id: str | None
    problems: tuple[EventProblem, ...]


class InvalidEvents(PortPassError):
    """At least one item is invalid: nothing of the batch was stored."""

    key = "notice.invalid_batch"

    def __init__(self, rejected: Sequence[RejectedEvent]) -> None:
        super().__init__(count=len(rejected))
        self.rejected = tuple(sorted(rejected, key=lambda r: r.position))

    def params(self) -> dict[str, object]:
        return {"count": len(self.rejected)}


class TooManyEvents(PortPassError):
    key = "notice.too_many"

    def __init__(self, *, count: int, limit: int = MAX_EVENTS) -> None:
        super().__init__(count=count, limit=limit)
        self.count, self.limit = count, limit

    def params(self) -> dict[str, object]:
        return {"count": f"{self.count:,}", "limit": f"{self.limit:,}"}


def shown(value: object, limit: int = 40) -> str:
    """A value quoted back to the sender, cut short (a whole record pasted into one field
    must not make the error list huge)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_event(raw: object, now: datetime) -> NoticeEvent | list[EventProblem]:
    """One item (a JSON object or a CSV row as a mapping) as an event, or its problems.

    CSV rows give every field as text, an empty cell for a missing one; JSON may give
    ``event_id`` as a number and ``detail`` as null.
    """
    if not isinstance(raw, Mapping):
        return [EventProblem(None, "notice.error.not_object")]
    problems = [
        EventProblem(str(name), "notice.error.unknown_field", {"field": shown(name)})
        for name in raw
        if name not in FIELDS
    ]
    values = {name: raw.get(name) for name in FIELDS}
    for name in REQUIRED:
        value = values[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(EventProblem(name, "notice.error.missing", {"field": name}))
    event_id = _event_id(values["event_id"], problems)
    pass_no = _pass_no(values["pass_no"], problems)
    kind = _kind(values["kind"], problems)
    occurred_at = _occurred_at(values["occurred_at"], now, problems)
    detail = _detail(values["detail"], problems)
    if problems or event_id is None or pass_no is None or kind is None or occurred_at is None:
        return problems  # a field that is None here was reported as missing
    return NoticeEvent(event_id, pass_no, kind, occurred_at, detail)


def event_id_of(raw: object) -> str | None:
    """The item's ``event_id`` as given, for an error report (``None``: none usable)."""
    if isinstance(raw, Mapping):
        value = raw.get("event_id")
        if isinstance(value, str) and value.strip():
            return shown(value.strip(), MAX_EVENT_ID)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _event_id(value: object, problems: list[EventProblem]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # reported as missing
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = value.strip() if isinstance(value, str) else None
    if text is None or len(text) > MAX_EVENT_ID or not text.isprintable():
        problems.append(EventProblem("event_id", "notice.error.event_id", {"value": shown(value)}))
        return None
    return text


def _pass_no(value: object, problems: list[EventProblem]) -> PassNumber | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if not isinstance(value, str):
            raise InvalidPassNumber(raw=value)
        return PassNumber.parse(value)
    except InvalidPassNumber:
        problems.append(EventProblem("pass_no", "notice.error.pass_no", {"value": shown(value)}))
        return None


def _kind(value: object, problems: list[EventProblem]) -> NoticeKind | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in KINDS:
        problems.append(
            EventProblem(
                "kind", "notice.error.kind", {"value": shown(value), "kinds": ", ".join(KINDS)}
            )
        )
        return None
    return NoticeKind(text)


def _occurred_at(value: object, now: datetime, problems: list[EventProblem]) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    at = parse_moment(value) if isinstance(value, str) else None
    if at is None:
        problems.append(
            EventProblem("occurred_at", "notice.error.occurred_at", {"value": shown(value)})
        )
        return None
    if at > now + FUTURE_SLACK or at < EARLIEST:
        problems.append(
            EventProblem("occurred_at", "notice.error.out_of_range", {"value": shown(value)})
        )
        return None
    return at


def _detail(value: object, problems: list[EventProblem]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DETAIL:
        problems.append(EventProblem("detail", "notice.error.detail", {"limit": str(MAX_DETAIL)}))
        return None
    # Control characters (other than line breaks) would garble a table or a chat.
    cleaned = "".join(c if c.isprintable() or c == "\n" else " " for c in value).strip()
    return cleaned or None


def parse_moment(raw: str) -> datetime | None:
    """When an event happened, as the gate system or a spreadsheet writes it.

    ISO 8601 with an offset (``2026-11-26T08:13:00+08:00``, ``…Z``), or without one
    (Taipei time is meant), a date alone (``2026-11-26``: Taipei midnight), or the
    registry's forms ``2026/11/26 08:13`` and ROC ``115/11/26``.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _slash_moment(text)
    if parsed is None:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=TAIPEI)
    return parsed


def _slash_moment(text: str) -> datetime | None:
    match = _SLASH_DATE.fullmatch(text)
    if match is None:
        return None
    year_s, month, day, hour, minute, second = match.groups()
    year = int(year_s)
    if len(year_s) == 3 or (len(year_s) == 2 and year > 0):
        year += ROC_YEAR_OFFSET
    elif len(year_s) != 4:
        return None
    try:
        moment = time(int(hour or 0), int(minute or 0), int(second or 0))
        return datetime.combine(date(year, int(month), int(day)), moment)
    except ValueError:
        return None
