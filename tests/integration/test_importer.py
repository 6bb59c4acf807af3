"""Registry import: the sample file, date formats, invalid rows, re-imports, R7."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import PassRecord, Status
from core.status import status_of
from core.values import PassNumber, Phone
from storage.db import create_engine
from storage.migrate import upgrade
from storage.registry import importer
from storage.registry.csv_rows import RowError
from storage.registry.importer import DEMO_REGISTRY, import_registry
from storage.tables import passes, persons
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import Backend
from tests.integration.builders import T0

SAMPLE = Path(__file__).resolve().parents[2] / "storage" / "demo" / "passes.csv"
HEADER = "pass_no,id_no,name,phone,valid_from,valid_to,company,verified_phone"


def write_csv(tmp_path: Path, *lines: str, name: str = "registry.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


async def records(uow_factory: SqlUnitOfWorkFactory) -> dict[str, PassRecord]:
    async with uow_factory() as uow:
        return {r.pass_no.value: r for r in await uow.passes.list()}


async def row_counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        n_passes = (await conn.execute(select(func.count()).select_from(passes))).scalar_one()
        n_people = (await conn.execute(select(func.count()).select_from(persons))).scalar_one()
    return n_passes, n_people


def test_demo_registry_is_the_shared_sample() -> None:
    assert DEMO_REGISTRY == SAMPLE
    shared = Path("/work/shared/samples/passes.csv")
    if shared.exists():
        assert SAMPLE.read_bytes() == shared.read_bytes()


async def test_sample_imports_with_the_statuses_r7_gives(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    report = await import_registry(uow_factory.engine, DEMO_REGISTRY, now=T0)
    assert report.ok and report.committed
    assert report.rows == 21
    assert (report.passes.new, report.passes.updated, report.passes.invalid) == (21, 0, 0)
    assert report.persons.new == 16
    assert report.bad_check_digits > 0  # the guide's test IDs, e.g. R123456788

    found = await records(uow_factory)
    assert len(found) == 21
    # Verified once to 0960123411, phone on file is now 0922123422: pending.
    assert status_of(found["KHPS111-000014"]) is Status.PENDING
    assert status_of(found["KHPS113-000047"]) is Status.VERIFIED
    assert status_of(found["KHPS113-000040"]) is Status.UNVERIFIED
    # No phone on file (R6), never verified.
    assert found["KHPS113-000034"].phone is None
    assert status_of(found["KHPS113-000034"]) is Status.UNVERIFIED
    # R8: QQ12345671 holds a verified pass and an unverified one.
    assert status_of(found["KHPS113-000038"]) is Status.VERIFIED
    assert status_of(found["KHPS113-000040"]) is Status.UNVERIFIED
    assert found["KHPS113-000040"].phone == Phone("+886960123411")
    assert found["TCPS113-000101"].company == "臺中港測試公司"
    assert found["KHPS110-003731"].id_no.value == "TEST0521"
    assert found["KHPS113-000047"].verified_at is None  # carried over: time unknown


async def test_reimport_reports_everything_unchanged(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    await import_registry(engine, DEMO_REGISTRY)
    before = await records(uow_factory)
    report = await import_registry(engine, DEMO_REGISTRY)
    assert report.committed
    assert (report.passes.new, report.passes.updated, report.passes.unchanged) == (0, 0, 21)
    assert (report.persons.new, report.persons.updated, report.persons.unchanged) == (0, 0, 16)
    assert await records(uow_factory) == before


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    return folder


async def test_dates_in_gregorian_iso_and_roc_forms(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    path = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000001,A123456789,甲,0912345678,2026/01/05,2027/01/04,C,",
        "KHPS113-000002,A123456789,甲,0912345678,2026-01-05,2027-1-4,C,",
        "KHPS113-000003,A123456789,甲,0912345678,115/01/05,116/1/4,C,",
        "KHPS113-000004,A123456789,甲,0912345678,99/12/31,１１６/０１/０４,C,",
    )
    report = await import_registry(uow_factory.engine, path)
    assert report.ok, report.errors
    found = await records(uow_factory)
    for number in ("KHPS113-000001", "KHPS113-000002", "KHPS113-000003"):
        assert (found[number].valid_from, found[number].valid_to) == (
            date(2026, 1, 5),
            date(2027, 1, 4),
        )
    assert found["KHPS113-000004"].valid_from == date(2010, 12, 31)  # ROC 99
    assert found["KHPS113-000004"].valid_to == date(2027, 1, 4)  # full-width digits


async def test_invalid_rows_are_all_reported_and_nothing_is_imported(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    path = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000001,A123456789,甲,0912345678,2026/01/05,2027/01/04,C,",
        "NOT-A-PASS,A123456789,甲,0912345678,2026/01/05,2027/01/04,C,",
        "KHPS113-000003,B223456780,乙,0212345678,2026/13/05,2027/01/04,C,",
        "KHPS113-000004,??,丙,0912345679,2027/01/05,2026/01/04,,",
        "KHPS113-000005,C123456781,丁,0912345670,2026/01/05,2027/01/04",
        "KHPS113-000006,D123456782,戊,0912345671,2026/01/05,2027/01/04,C,+1 212 555 0100",
    )
    report = await import_registry(engine, path)
    assert not report.ok and not report.committed
    assert report.passes.invalid == 5
    assert report.passes.new == 1  # what would have been imported
    by_line: dict[int, set[str | None]] = {}
    for error in report.errors:
        by_line.setdefault(error.line, set()).add(error.field)
    assert by_line == {
        3: {"pass_no"},
        4: {"phone", "valid_from"},
        5: {"id_no", "company", "valid_to"},
        6: {None},  # too few columns
        7: {"verified_phone"},  # not a Taiwanese mobile
    }
    assert [e.line for e in report.errors] == sorted(e.line for e in report.errors)
    assert await row_counts(engine) == (0, 0)


async def test_skip_invalid_imports_the_valid_rows(
    csv_dir: Path, engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    path = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000001,A123456789,甲,0912345678,2026/01/05,2027/01/04,C,",
        "KHPS113-000002,A123456789,甲,09123,2026/01/05,2027/01/04,C,",
        "KHPS113-000003,B223456780,乙,,2026/01/05,2027/01/04,C,",
    )
    report = await import_registry(engine, path, skip_invalid=True)
    assert report.committed
    assert report.errors == [RowError(3, "phone", "not a mobile number such as 0912345678")]
    assert (report.passes.new, report.passes.invalid) == (2, 1)
    assert sorted(await records(uow_factory)) == ["KHPS113-000001", "KHPS113-000003"]


async def test_dry_run_reports_but_writes_nothing(engine: AsyncEngine) -> None:
    report = await import_registry(engine, DEMO_REGISTRY, dry_run=True)
    assert report.ok and report.dry_run and not report.committed
    assert report.passes.new == 21
    assert await row_counts(engine) == (0, 0)


async def test_a_new_phone_on_file_makes_a_verified_pass_pending(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    first = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000047,QQ12345675,簡訊測試五,0960123411,2026/01/05,2027/01/04,C,0960123411",
        name="first.csv",
    )
    await import_registry(uow_factory.engine, first)
    assert status_of((await records(uow_factory))["KHPS113-000047"]) is Status.VERIFIED

    second = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000047,QQ12345675,簡訊測試五,0912000111,2026/01/05,2027/01/04,C,",
        name="second.csv",
    )
    report = await import_registry(uow_factory.engine, second)
    assert report.persons.updated == 1
    assert report.passes.unchanged == 1  # the pass row itself did not change
    record = (await records(uow_factory))["KHPS113-000047"]
    assert record.verified_phone == Phone("+886960123411")  # empty cell kept it
    assert status_of(record) is Status.PENDING


async def test_an_empty_verified_phone_keeps_a_verification(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    path = write_csv(
        csv_dir, HEADER, "KHPS113-000043,QQ12345673,三,0960123411,2026/01/05,2027/01/04,C,"
    )
    await import_registry(uow_factory.engine, path)
    async with uow_factory() as uow:
        await uow.passes.set_verified_phone(
            PassNumber("KHPS113-000043"), Phone("+886960123411"), T0
        )
        await uow.commit()
    report = await import_registry(uow_factory.engine, path)
    assert report.passes.unchanged == 1
    record = (await records(uow_factory))["KHPS113-000043"]
    assert status_of(record) is Status.VERIFIED
    assert record.verified_at == T0


async def test_an_updated_pass_keeps_its_verification_time(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    line = "KHPS113-000043,QQ12345673,三,0960123411,2026/01/05,2027/01/04,{company},"
    await import_registry(uow_factory.engine, write_csv(csv_dir, HEADER, line.format(company="C")))
    async with uow_factory() as uow:
        await uow.passes.set_verified_phone(
            PassNumber("KHPS113-000043"), Phone("+886960123411"), T0
        )
        await uow.commit()
    path = write_csv(csv_dir, HEADER, line.format(company="D"), name="moved.csv")
    report = await import_registry(uow_factory.engine, path)
    assert report.passes.updated == 1
    record = (await records(uow_factory))["KHPS113-000043"]
    assert (record.company, record.verified_at) == ("D", T0)
    assert status_of(record) is Status.VERIFIED


async def test_changed_pass_fields_are_updated(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    line = "KHPS113-000043,QQ12345673,三,0960123411,2026/01/05,{to},{company},"
    first = write_csv(csv_dir, HEADER, line.format(to="2027/01/04", company="C"), name="a.csv")
    second = write_csv(csv_dir, HEADER, line.format(to="2028/01/04", company="D"), name="b.csv")
    await import_registry(uow_factory.engine, first)
    report = await import_registry(uow_factory.engine, second)
    assert (report.passes.updated, report.persons.unchanged) == (1, 1)
    record = (await records(uow_factory))["KHPS113-000043"]
    assert (record.valid_to, record.company) == (date(2028, 1, 4), "D")


async def test_rows_of_one_person_that_disagree_are_an_error(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    path = write_csv(
        csv_dir,
        HEADER,
        "KHPS113-000001,A123456789,甲,0912345678,2026/01/05,2027/01/04,C,",
        "KHPS113-000002,B223456780,乙,0912345600,2026/01/05,2027/01/04,C,",
        "KHPS113-000003,A123456789,甲,0912345679,2026/01/05,2027/01/04,C,",
        "KHPS113-000004,A123456789,甲二,0912345678,2026/01/05,2027/01/04,C,",
        "KHPS113-000001,B223456780,乙,0912345600,2026/01/05,2027/01/04,C,",
    )
    report = await import_registry(engine, path)
    assert not report.committed
    assert report.errors == [
        RowError(4, "id_no", "same ID number as line 2 but a different phone"),
        RowError(5, "id_no", "same ID number as line 2 but a different name"),
        RowError(6, "pass_no", "KHPS113-000001 is already on line 2"),
    ]
    assert report.persons.invalid == 2
    assert await row_counts(engine) == (0, 0)


async def test_disagreeing_rows_are_found_across_chunks(
    csv_dir: Path, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    lines = [
        f"KHPS113-{n:06d},A123456789,甲,0912345678,2026/01/05,2027/01/04,C," for n in range(1, 6)
    ]
    lines.append("KHPS113-000009,A123456789,甲,0912000000,2026/01/05,2027/01/04,C,")
    lines.append("KHPS113-000002,B223456780,乙,0912345600,2026/01/05,2027/01/04,C,")
    report = await import_registry(engine, write_csv(csv_dir, HEADER, *lines), skip_invalid=True)
    assert report.errors == [
        RowError(7, "id_no", "same ID number as line 2 but a different phone"),
        RowError(8, "pass_no", "KHPS113-000002 is already on line 3"),
    ]
    assert (report.passes.new, report.persons.new) == (5, 1)
    assert await row_counts(engine) == (5, 1)


async def test_bom_columns_in_any_order_and_blank_lines(
    csv_dir: Path, uow_factory: SqlUnitOfWorkFactory
) -> None:
    path = write_csv(
        csv_dir,
        "Company, Valid_To ,valid_from,phone,name,id_no,pass_no",
        "臺中港測試公司,2027/01/31,2026/02/01,0911-222-333,臺中測試甲,b223456780,tcps113000101",
        "",
        bom=True,
    )
    report = await import_registry(uow_factory.engine, path)
    assert report.ok and report.rows == 1
    record = (await records(uow_factory))["TCPS113-000101"]
    assert (record.id_no.value, record.phone, record.name) == (
        "B223456780",
        Phone("+886911222333"),
        "臺中測試甲",
    )
    assert status_of(record) is Status.UNVERIFIED


async def test_missing_columns_reject_the_whole_file(csv_dir: Path, engine: AsyncEngine) -> None:
    path = write_csv(csv_dir, "pass_no,id_no,name", "KHPS113-000001,A123456789,甲")
    report = await import_registry(engine, path)
    assert not report.committed
    assert len(report.errors) == 1
    assert report.errors[0].line == 1
    assert "phone" in report.errors[0].reason and "company" in report.errors[0].reason
    assert await row_counts(engine) == (0, 0)


async def test_a_big5_file_is_reported_not_half_imported(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    lines = [HEADER] + [
        f"KHPS113-{n:06d},A123456789,甲,0912345678,2026/01/05,2027/01/04,C," for n in range(1, 400)
    ]
    lines.append("KHPS113-000999,B223456780,臺中測試乙,0912345600,2026/01/05,2027/01/04,C,")
    path = csv_dir / "big5.csv"
    path.write_bytes("\n".join(lines[:-1]).encode() + b"\n" + lines[-1].encode("big5") + b"\n")
    report = await import_registry(engine, path, skip_invalid=True)
    assert not report.committed
    assert report.errors[-1].field is None
    assert "UTF-8" in report.errors[-1].reason
    assert await row_counts(engine) == (0, 0)


async def test_a_big5_header_is_read_and_its_missing_columns_named(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    path = csv_dir / "big5-header.csv"
    path.write_bytes("通行證號,身分證號\n".encode("big5"))
    report = await import_registry(engine, path)
    assert not report.committed
    assert [e.line for e in report.errors] == [1]
    assert "姓名 name" in report.errors[0].reason
    assert report.encoding == "Big5 (cp950)"


def registry_line(
    n: int, *, id_no: str | None = None, name: str | None = None, phone: str | None = None
) -> str:
    """Row ``n`` of a generated registry (file line ``n + 1``): its own pass and person."""
    id_no = id_no or f"TEST{n:05d}"
    name = name or f"人{n}"
    phone = phone or f"09{n:08d}"
    return f"KHPS113-{n:06d},{id_no},{name},{phone},2026/01/05,2027/01/04,C,"


async def test_repeats_far_apart_in_a_large_file_are_found(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    # Chunks apart: the first lines are long written to the database (and out of
    # any chunk in memory) when their repeats are read.
    rows = 3 * importer.CHUNK_ROWS
    lines = [registry_line(n) for n in range(1, rows + 1)]
    lines += [
        registry_line(1, name="別人"),
        registry_line(rows + 2, id_no="TEST00002", name="人2"),
        registry_line(rows + 3, id_no="TEST00003"),
        registry_line(rows + 4, id_no=f"TEST{rows:05d}", phone=f"09{rows:08d}"),
        # The same person's second pass, agreeing: fine however far apart.
        registry_line(rows + 5, id_no="TEST00005", name="人5", phone="0900000005"),
    ]
    report = await import_registry(engine, write_csv(csv_dir, HEADER, *lines), skip_invalid=True)

    assert report.committed
    assert report.errors == [
        RowError(rows + 2, "pass_no", "KHPS113-000001 is already on line 2"),
        RowError(rows + 3, "id_no", "same ID number as line 3 but a different phone"),
        RowError(rows + 4, "id_no", "same ID number as line 4 but a different name and phone"),
        RowError(rows + 5, "id_no", f"same ID number as line {rows + 1} but a different name"),
    ]
    assert (report.passes.new, report.passes.invalid) == (rows + 1, 4)
    assert (report.persons.new, report.persons.invalid) == (rows, 3)
    assert await row_counts(engine) == (rows + 1, rows)


async def test_errors_beyond_the_cap_are_counted_not_kept(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    path = write_csv(
        csv_dir,
        HEADER,
        registry_line(1),
        registry_line(1),  # line 3: repeated pass (found by the merge)
        registry_line(4, phone="09123"),  # line 4: bad phone (found by the reader)
        registry_line(5, id_no="TEST00001"),  # line 5: same person, other phone
        registry_line(6, phone="09123"),
        registry_line(7),
    )
    report = await import_registry(engine, path, max_errors=2)
    assert [(e.line, e.field) for e in report.errors] == [(3, "pass_no"), (4, "phone")]
    assert report.errors_omitted == 2
    assert report.passes.invalid == 4
    assert not report.ok and not report.committed
    assert await row_counts(engine) == (0, 0)

    report = await import_registry(engine, path, max_errors=0)
    assert (report.errors, report.errors_omitted) == ([], 4)
    assert not report.ok and not report.committed

    report = await import_registry(engine, path, max_errors=0, skip_invalid=True)
    assert report.committed
    assert await row_counts(engine) == (2, 2)


async def test_an_unreadable_file_is_reported_past_the_cap(
    csv_dir: Path, engine: AsyncEngine
) -> None:
    # Enough lines that the bad bytes are decoded after the header and some rows.
    lines = [HEADER] + [registry_line(n, phone="09123") for n in range(1, 400)]
    path = csv_dir / "big5.csv"
    path.write_bytes("\n".join(lines).encode() + "\n臺中,\n".encode("big5"))
    report = await import_registry(engine, path, max_errors=1, skip_invalid=True)
    assert not report.committed
    assert len(report.errors) == 2
    assert (report.errors[0].line, report.errors[0].field) == (2, "phone")
    assert report.errors[-1].field is None
    assert "UTF-8" in report.errors[-1].reason
    assert report.errors_omitted == report.passes.invalid - 1 > 0


async def test_imports_leave_no_temporary_tables_on_their_connection(
    backend: Backend, csv_dir: Path
) -> None:
    # One pooled connection: every import below runs on it, and so does the check.
    engine = create_engine(backend.url, pool_size=1, max_overflow=0, **backend.options)
    try:
        await upgrade(engine)
        bad = write_csv(csv_dir, HEADER, registry_line(1), registry_line(1), name="bad.csv")
        for path, dry_run, committed in [
            (DEMO_REGISTRY, False, True),
            (DEMO_REGISTRY, True, False),
            (bad, False, False),
            (DEMO_REGISTRY, False, True),  # the same connection imports again
        ]:
            report = await import_registry(engine, path, dry_run=dry_run)
            assert report.committed is committed
            async with engine.connect() as conn:
                if backend.name == "sqlite":
                    query = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
                else:
                    query = "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()"
                assert (await conn.exec_driver_sql(query)).all() == []
        assert await row_counts(engine) == (21, 16)
    finally:
        await engine.dispose()
