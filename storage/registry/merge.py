"""Writing staged registry rows into the registry: upserts by pass and ID number, counted.

The staged rows (:mod:`storage.registry.stage`) come holder by holder, in batches. For
each batch the merge reads what is stored for its passes and persons, decides what is
new, updated or unchanged (:class:`BatchPlanner`), and upserts only the rows that
change, so re-importing an unchanged registry writes nothing.

On SQLite (:mod:`storage.registry.merge_sqlite`) each batch is its own short
transaction and the write lock is left free between them, so the service keeps
answering; on PostgreSQL (:mod:`storage.registry.merge_postgres`) the merge is one
transaction. Their module docstrings say why.

**Verification is decided when the row is written,** not when it was read: the upsert
keeps the stored verified phone when the file's cell is empty, and keeps its time when
the phone stays the same (``ON CONFLICT DO UPDATE SET verified_phone =
coalesce(excluded.verified_phone, passes.verified_phone), ...``), so a holder who
verifies during an import keeps the verification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, case, func, null

from storage.registry.stage import StagedRow
from storage.tables import passes


@dataclass(slots=True)
class Counts:
    """Rows of one kind (passes or persons) by what the import did with them."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0


class StoredPass(NamedTuple):
    """What the registry holds for a pass, dates as ISO text."""

    id_no: str
    company: str
    valid_from: str
    valid_to: str
    verified_phone: str | None


class BatchPlanner:
    """Decides, batch by batch, what to write; counts new, updated and unchanged rows.

    Pure: given a batch and what is stored for it, returns the persons (each holder's
    first row) and passes to upsert.
    """

    def __init__(self) -> None:
        self.passes = Counts()
        self.persons = Counts()

    def plan(
        self,
        batch: Sequence[StagedRow],
        stored_persons: dict[str, tuple[str, str | None]],
        stored_passes: dict[str, StoredPass],
    ) -> tuple[list[StagedRow], list[StagedRow]]:
        person_writes: list[StagedRow] = []
        pass_writes: list[StagedRow] = []
        for row in batch:
            if row.line == row.person_line:  # the holder's first row carries the person
                stored_person = stored_persons.get(row.id_no)
                if stored_person == (row.name, row.phone):
                    self.persons.unchanged += 1
                else:
                    if stored_person is None:
                        self.persons.new += 1
                    else:
                        self.persons.updated += 1
                    person_writes.append(row)
            stored = stored_passes.get(row.pass_no)
            if stored is None:
                self.passes.new += 1
                pass_writes.append(row)
                continue
            verified = row.verified_phone or stored.verified_phone  # empty cell: kept
            after = (row.id_no, row.company, row.valid_from, row.valid_to, verified)
            if after == stored:
                self.passes.unchanged += 1
            else:
                self.passes.updated += 1
                pass_writes.append(row)
        return person_writes, pass_writes


def pass_changes(excluded: Any) -> dict[str, ColumnElement[Any]]:
    """The ON CONFLICT update of a pass: verification decided against the stored row,
    when it is written (for both backends' upserts)."""
    verified = func.coalesce(excluded.verified_phone, passes.c.verified_phone)
    same_phone = verified.is_not_distinct_from(passes.c.verified_phone)
    return {
        "id_no": excluded.id_no,
        "company": excluded.company,
        "valid_from": excluded.valid_from,
        "valid_to": excluded.valid_to,
        "verified_phone": verified,
        "verified_at": case((same_phone, passes.c.verified_at), else_=null()),
        "updated_at": excluded.updated_at,
    }


def person_changes(excluded: Any) -> dict[str, ColumnElement[Any]]:
    """The ON CONFLICT update of a person: the registry's name and phone."""
    return {c: excluded[c] for c in ("name", "phone", "updated_at")}


ProgressCallback = Callable[[int], None]  # called with the rows merged so far
