"""Writing checked registry rows: upserts by pass number and ID number, with counts.

Each chunk costs two reads (the stored passes and persons it touches, each with the
line of this file that wrote it, if one did) and at most four inserts: the two
upserts (``INSERT ... ON CONFLICT DO UPDATE``, which SQLite and PostgreSQL both
speak) and the lines of the passes and people first accepted in it. Rows equal to
what is stored are not written to ``passes`` or ``persons``, so a re-import of an
unchanged registry writes only those lines.

On SQLite an insert is an ``executemany`` (in-process, so a row costs little). On
PostgreSQL every statement has the same text whatever the chunk holds: keys go in
as one array (``= ANY(:keys)``) and rows as one array per column
(``INSERT ... SELECT unnest(:a), unnest(:b), ...``), so a chunk's insert is one
round trip and one execution, and asyncpg prepares each statement once.

The lines live in two temporary tables of the import's own connection and
transaction (:data:`seen_passes`, :data:`seen_persons`, keyed by pass and ID
number), not in Python: repeats are found across the whole file while memory stays
flat however long the file is. Temporary tables need no migration, are invisible to other
connections, and vanish with the transaction (PostgreSQL: ``ON COMMIT DROP``;
SQLite: rolled back with it, or dropped by :meth:`RegistryMerge.finish`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Table,
    Text,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable, DropTable

from storage.registry_csv import ErrorLog, RegistryRow, RowError
from storage.tables import passes, persons

# Not in storage.tables.metadata: no migration creates them, each import does.
_import_metadata = MetaData()


def _seen_table(name: str, key: str) -> Table:
    """Key (pass or ID number) -> the line of this file that first had it."""
    return Table(
        name,
        _import_metadata,
        Column(key, Text, primary_key=True),
        Column("line", Integer, nullable=False),
        prefixes=["TEMPORARY"],
        sqlite_with_rowid=False,  # one B-tree, keyed by the text
        postgresql_on_commit="DROP",
    )


seen_passes = _seen_table("import_seen_passes", "pass_no")
seen_persons = _seen_table("import_seen_persons", "id_no")


@dataclass(slots=True)
class Counts:
    """Rows of one kind (passes or persons) by what the import did with them."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0


def _is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _among(conn: AsyncConnection, column: Column[str]) -> ColumnElement[bool]:
    """``column IN :keys``; on PostgreSQL ``column = ANY(:keys)``, one statement text.

    The keys are a parameter, not part of the statement, so the statement is built
    once per import and no chunk's keys outlive the chunk (a statement built with
    its values holds them in reference cycles, kept until a full collection).
    """
    if _is_postgres(conn):
        return column == any_(bindparam("keys", type_=ARRAY(Text)))
    return column.in_(bindparam("keys", expanding=True))


class _Inserter:
    """Inserts a chunk's rows into ``table`` (upserting by ``key`` if given)."""

    def __init__(self, conn: AsyncConnection, table: Table, key: str | None = None) -> None:
        self._conn = conn
        self._columns = [c.name for c in table.columns]
        self._arrays = _is_postgres(conn)
        statement: postgresql.Insert | sqlite.Insert
        if self._arrays:
            values = select(
                *(func.unnest(bindparam(c.name, type_=ARRAY(c.type))) for c in table.columns)
            )
            statement = postgresql.insert(table).from_select(self._columns, values)
        else:
            statement = sqlite.insert(table)
        if key is not None:
            changes = {c: statement.excluded[c] for c in self._columns if c != key}
            statement = statement.on_conflict_do_update(index_elements=[key], set_=changes)
        self._statement = statement

    async def __call__(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._arrays:
            columns = {name: [row[name] for row in rows] for name in self._columns}
            await self._conn.execute(self._statement, columns)
        else:
            await self._conn.execute(self._statement, rows)


class RegistryMerge:
    """One import's writes, and what it has seen so far and where.

    ``start`` creates the temporary tables in the import's transaction, ``apply``
    takes the checked rows of one chunk, ``finish`` drops the tables. Rows that
    contradict an earlier row (a repeated pass, a person whose name or phone
    differs) go to ``rejected`` (the first ``max_errors`` kept, all counted).
    """

    def __init__(self, conn: AsyncConnection, now: datetime, *, max_errors: int = 1000) -> None:
        self._conn = conn
        self._now = now
        self.passes = Counts()
        self.persons = Counts()
        self.bad_check_digits = 0
        self.rejected = ErrorLog(max_errors)
        self._upsert_persons = _Inserter(conn, persons, "id_no")
        self._upsert_passes = _Inserter(conn, passes, "pass_no")
        self._insert_seen_persons = _Inserter(conn, seen_persons)
        self._insert_seen_passes = _Inserter(conn, seen_passes)
        # Every person or pass an earlier chunk accepted is in the database now
        # (written, or already equal), so an outer join to the seen tables gives both
        # what is stored and, for what this file already had, the line that had it.
        self._select_persons = (
            select(persons.c.id_no, persons.c.name, persons.c.phone, seen_persons.c.line)
            .select_from(persons.outerjoin(seen_persons, seen_persons.c.id_no == persons.c.id_no))
            .where(_among(conn, persons.c.id_no))
        )
        self._select_passes = (
            select(passes, seen_passes.c.line)
            .select_from(passes.outerjoin(seen_passes, seen_passes.c.pass_no == passes.c.pass_no))
            .where(_among(conn, passes.c.pass_no))
        )

    async def start(self) -> None:
        for table in (seen_passes, seen_persons):
            # A leftover of an import that died on this pooled connection is unlikely
            # (both backends drop it with the transaction) but must not stop this one.
            await self._conn.execute(DropTable(table, if_exists=True))
            await self._conn.execute(CreateTable(table))

    async def finish(self) -> None:
        """Drop the temporary tables; call before commit or rollback."""
        for table in (seen_passes, seen_persons):
            await self._conn.execute(DropTable(table, if_exists=True))

    async def apply(self, rows: list[RegistryRow]) -> None:
        ids = list({row.id_no for row in rows})
        stored_persons: dict[str, tuple[str, str | None]] = {}
        person_lines: dict[str, int] = {}  # people first seen in an earlier chunk
        for r in await self._conn.execute(self._select_persons, {"keys": ids}):
            stored_persons[r.id_no] = (r.name, r.phone)
            if r.line is not None:
                person_lines[r.id_no] = r.line
        pass_nos = [row.pass_no for row in rows]
        stored_passes: dict[str, Any] = {}
        pass_lines: dict[str, int] = {}  # passes accepted so far: earlier chunks, then this
        for r in await self._conn.execute(self._select_passes, {"keys": pass_nos}):
            stored_passes[r.pass_no] = r
            if r.line is not None:
                pass_lines[r.pass_no] = r.line

        first_rows: dict[str, RegistryRow] = {}  # people first seen in this chunk
        accepted = [
            row
            for row in rows
            if self._accept(row, pass_lines, person_lines, first_rows, stored_persons)
        ]

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
        await self._upsert_persons(person_writes)
        await self._upsert_passes(pass_writes)
        await self._insert_seen_persons(
            [{"id_no": row.id_no, "line": row.line} for row in first_rows.values()]
        )
        await self._insert_seen_passes(
            [{"pass_no": row.pass_no, "line": row.line} for row in accepted]
        )

    def _accept(
        self,
        row: RegistryRow,
        pass_lines: dict[str, int],
        person_lines: dict[str, int],
        first_rows: dict[str, RegistryRow],
        stored_persons: dict[str, tuple[str, str | None]],
    ) -> bool:
        first_line = pass_lines.get(row.pass_no)
        if first_line is not None:
            reason = f"{row.pass_no} is already on line {first_line}"
            self.rejected.add(RowError(row.line, "pass_no", reason))
            return False
        known: tuple[str, str | None, int] | None = None
        if (earlier := first_rows.get(row.id_no)) is not None:
            known = (earlier.name, earlier.phone, earlier.line)
        elif (line := person_lines.get(row.id_no)) is not None:
            # First seen in an earlier chunk: that row is in the database now.
            name, phone = stored_persons[row.id_no]
            known = (name, phone, line)
        if known is not None and (known[0], known[1]) != (row.name, row.phone):
            name_differs, phone_differs = known[0] != row.name, known[1] != row.phone
            differ = " and ".join(
                label for label, flag in (("name", name_differs), ("phone", phone_differs)) if flag
            )
            reason = f"same ID number as line {known[2]} but a different {differ}"
            self.rejected.add(RowError(row.line, "id_no", reason))
            self.persons.invalid += 1
            return False
        pass_lines[row.pass_no] = row.line
        if known is None:
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
