"""Writing checked registry rows: upserts by pass number and ID number, with counts.

Each chunk costs two reads (the stored passes and persons it touches) and at most two
``executemany`` upserts (``INSERT ... ON CONFLICT DO UPDATE``, which SQLite and
PostgreSQL both speak). Rows equal to what is stored are not written at all, so a
re-import of an unchanged registry only reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert

from storage.registry_csv import RegistryRow, RowError
from storage.tables import passes, persons


@dataclass(slots=True)
class Counts:
    """Rows of one kind (passes or persons) by what the import did with them."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0


def _upsert(conn: AsyncConnection, table: Table, key: str) -> Insert:
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    statement = insert(table)
    changes = {c.name: statement.excluded[c.name] for c in table.columns if c.name != key}
    return statement.on_conflict_do_update(index_elements=[key], set_=changes)


class RegistryMerge:
    """One import's writes, and what it has seen so far and where.

    ``apply`` takes the checked rows of one chunk; rows that contradict an earlier
    row (a repeated pass, a person whose name or phone differs) go to ``rejected``.
    """

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self._conn = conn
        self._now = now
        self.passes = Counts()
        self.persons = Counts()
        self.bad_check_digits = 0
        self.rejected: list[RowError] = []
        # First line of every pass and person accepted so far: how repeats are found
        # across chunks. The one thing that grows with the file (~190 bytes a row).
        self._pass_lines: dict[str, int] = {}
        self._person_lines: dict[str, int] = {}
        self._upsert_persons = _upsert(conn, persons, "id_no")
        self._upsert_passes = _upsert(conn, passes, "pass_no")

    async def apply(self, rows: list[RegistryRow]) -> None:
        ids = {row.id_no for row in rows}
        query = select(persons.c.id_no, persons.c.name, persons.c.phone)
        stored_persons = {
            r.id_no: (r.name, r.phone)
            for r in await self._conn.execute(query.where(persons.c.id_no.in_(ids)))
        }
        query = select(passes).where(passes.c.pass_no.in_([row.pass_no for row in rows]))
        stored_passes = {r.pass_no: r for r in await self._conn.execute(query)}

        first_rows: dict[str, RegistryRow] = {}  # people first seen in this chunk
        accepted = [row for row in rows if self._accept(row, first_rows, stored_persons)]

        person_writes = [
            values
            for row in first_rows.values()
            if (values := self._person_values(row, stored_persons.get(row.id_no)))
        ]
        pass_writes = [
            values
            for row in accepted
            if (values := self._pass_values(row, stored_passes.get(row.pass_no)))
        ]
        if person_writes:
            await self._conn.execute(self._upsert_persons, person_writes)
        if pass_writes:
            await self._conn.execute(self._upsert_passes, pass_writes)

    def _accept(
        self,
        row: RegistryRow,
        first_rows: dict[str, RegistryRow],
        stored_persons: dict[str, tuple[str, str | None]],
    ) -> bool:
        first_line = self._pass_lines.get(row.pass_no)
        if first_line is not None:
            reason = f"{row.pass_no} is already on line {first_line}"
            self.rejected.append(RowError(row.line, "pass_no", reason))
            return False
        known: tuple[str, str | None, int] | None = None
        if (earlier := first_rows.get(row.id_no)) is not None:
            known = (earlier.name, earlier.phone, earlier.line)
        elif (line := self._person_lines.get(row.id_no)) is not None:
            # First seen in an earlier chunk: that row is in the database now.
            name, phone = stored_persons[row.id_no]
            known = (name, phone, line)
        if known is not None and (known[0], known[1]) != (row.name, row.phone):
            name_differs, phone_differs = known[0] != row.name, known[1] != row.phone
            differ = " and ".join(
                label for label, flag in (("name", name_differs), ("phone", phone_differs)) if flag
            )
            reason = f"same ID number as line {known[2]} but a different {differ}"
            self.rejected.append(RowError(row.line, "id_no", reason))
            self.persons.invalid += 1
            return False
        self._pass_lines[row.pass_no] = row.line
        if known is None:
            self._person_lines[row.id_no] = row.line
            first_rows[row.id_no] = row
            self.bad_check_digits += row.bad_check_digit
        return True

    def _person_values(
        self, row: RegistryRow, stored: tuple[str, str | None] | None
    ) -> dict[str, Any] | None:
        counts = self.persons
        if stored == (row.name, row.phone):
            counts.unchanged += 1
            return None
        if stored is None:
            counts.new += 1
        else:
            counts.updated += 1
        return {"id_no": row.id_no, "name": row.name, "phone": row.phone, "updated_at": self._now}

    def _pass_values(self, row: RegistryRow, stored: Any) -> dict[str, Any] | None:
        counts = self.passes
        verified = row.verified_phone
        verified_at = None
        if stored is not None:
            if verified is None:  # an empty cell keeps the pass's verification
                verified = stored.verified_phone
            if verified == stored.verified_phone:
                verified_at = stored.verified_at
            before = (stored.id_no, stored.company, stored.valid_from, stored.valid_to)
            after = (row.id_no, row.company, row.valid_from, row.valid_to)
            if before == after and verified == stored.verified_phone:
                counts.unchanged += 1
                return None
            counts.updated += 1
        else:
            counts.new += 1
        return {
            "pass_no": row.pass_no,
            "id_no": row.id_no,
            "company": row.company,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
            "verified_phone": verified,
            "verified_at": verified_at,
            "updated_at": self._now,
        }
