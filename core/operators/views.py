"""What an operator sees of passes (R10): list rows, one pass, counts, and the export.

Lists mask ID numbers and phones (a list is what ends up in a screenshot); one owned
pass is shown in full; a pass of another company is shown only after its exact number
was typed, and then masked. The export is the company's full table, because that is
what the operator needs to correct the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core import messages
from core.masking import mask_id, mask_name, mask_phone
from core.model import PassRecord, Status
from core.spreadsheet import excel_csv
from core.status import status_of
from core.values import PassNumber, Phone
from core.verification.delivery import DeliveryProblem

#: The export's columns, in the order of the guide's table, then validity and company.
EXPORT_COLUMNS = (
    "pass_no",
    "id_no",
    "name",
    "phone",
    "verified_phone",
    "status",
    "valid_from",
    "valid_to",
    "company",
)


@dataclass(frozen=True, slots=True)
class PassRow:
    """One line of ``/passes``: R10's columns, ID number and phones masked."""

    pass_no: PassNumber
    id_no: str
    name: str
    phone: str
    verified_phone: str
    status: Status
    opted_out: bool = False  # the phone on file opted out of SMS (已退訂)

    @classmethod
    def of(cls, record: PassRecord, *, opted_out: bool = False) -> PassRow:
        return cls(
            pass_no=record.pass_no,
            id_no=mask_id(record.id_no),
            name=record.name or "",
            phone=mask_phone(record.phone),
            verified_phone=mask_phone(record.verified_phone),
            status=status_of(record),
            opted_out=opted_out,
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an operator's owned passes; ``page`` counts from 0."""

    rows: tuple[PassRow, ...]
    page: int
    page_size: int
    total: int
    status: Status | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.page_size < self.total


@dataclass(frozen=True, slots=True)
class PassView:
    """``/pass PASS_NO``. ``owned``: every field in full. Not owned: ID number, name and
    phones masked, and the company left out (R10: the operator may request a code for
    the pass, but may not read its holder's record)."""

    pass_no: PassNumber
    owned: bool
    id_no: str
    name: str
    phone: str
    verified_phone: str
    valid_from: date
    valid_to: date
    status: Status
    company: str | None
    opted_out: bool = False  # the phone on file opted out of SMS (已退訂)
    #: The latest verification SMS for the pass did not arrive.
    delivery: DeliveryProblem | None = None

    @classmethod
    def of(cls, record: PassRecord, *, owned: bool, opted_out: bool = False) -> PassView:
        if owned:
            return cls(
                pass_no=record.pass_no,
                owned=True,
                id_no=record.id_no.value,
                name=record.name or "",
                phone=_display(record.phone),
                verified_phone=_display(record.verified_phone),
                valid_from=record.valid_from,
                valid_to=record.valid_to,
                status=status_of(record),
                company=record.company,
                opted_out=opted_out,
            )
        return cls(
            pass_no=record.pass_no,
            owned=False,
            id_no=mask_id(record.id_no),
            name=mask_name(record.name),
            phone=mask_phone(record.phone),
            verified_phone=mask_phone(record.verified_phone),
            valid_from=record.valid_from,
            valid_to=record.valid_to,
            status=status_of(record),
            company=None,
            opted_out=opted_out,
        )


@dataclass(frozen=True, slots=True)
class Stats:
    """``/stats``: passes per status (every status present), codes still waiting, and
    passes whose phone opted out of SMS (the operator must reach those holders another
    way: no code or suspension notice gets through)."""

    counts: dict[Status, int] = field(default_factory=dict)
    open_codes: int = 0
    opted_out: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def status_text(status: Status, opted_out: bool, language: str = messages.ZH) -> str:
    """是否驗證 as operators read it: ``未驗證``, or ``未驗證（已退訂）`` when the phone on
    file opted out of SMS (no code, and no notice, can reach it until it opts back in)."""
    label = messages.text(f"status.{status.value}", language)
    if not opted_out:
        return label
    return messages.text("operator.status_opted_out", language, status=label)


def _display(phone: Phone | None) -> str:
    return phone.display if phone else ""


def export_row(record: PassRecord, *, opted_out: bool = False) -> dict[str, str]:
    """One pass in full, as plain strings; phones as ``0912-345-678``, which a
    spreadsheet keeps as text (``0912345678`` would lose its leading zero).
    ``opted_out``: the phone on file opted out of SMS; the status cell says so."""
    return {
        "pass_no": record.pass_no.value,
        "id_no": record.id_no.value,
        "name": record.name or "",
        "phone": _display(record.phone),
        "verified_phone": _display(record.verified_phone),
        "status": status_of(record).value,
        "valid_from": record.valid_from.strftime("%Y/%m/%d"),
        "valid_to": record.valid_to.strftime("%Y/%m/%d"),
        "company": record.company,
        "opted_out": "yes" if opted_out else "no",
    }


def export_csv(rows: list[dict[str, str]], language: str = messages.ZH) -> bytes:
    """The rows as the Excel-safe CSV of :mod:`core.spreadsheet`, with headers and
    statuses in ``language``."""
    header = [messages.text(f"operator.col.{c}", language) for c in EXPORT_COLUMNS]
    lines = []
    for row in rows:
        cells = dict(row)
        opted_out = row.get("opted_out") == "yes"
        cells["status"] = status_text(Status(row["status"]), opted_out, language)
        lines.append([cells.get(c, "") for c in EXPORT_COLUMNS])
    return excel_csv(header, lines)
