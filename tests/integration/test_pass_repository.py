"""PassRepository contract, and R7 derived in SQL exactly as core derives it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Status
from core.status import derive_status, status_of
from core.values import IdNumber, PassNumber, Phone
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import (
    PHONE_A,
    PHONE_B,
    PHONE_C,
    T0,
    add_pass,
    add_person,
    delete_person,
)

OTHER = "臺中港測試公司"


async def seed_registry(engine: AsyncEngine) -> None:
    """Three holders: one verified, one pending (phone changed), one never verified,
    plus a pass of a person without a phone and one of a person deleted since."""
    await add_person(engine, "A123456789", name="甲", phone=PHONE_A)
    await add_person(engine, "B223456780", name="乙", phone=PHONE_B)
    await add_person(engine, "X123456789", name="丙", phone=None)
    await add_person(engine, "Z123456789", name="丁", phone=PHONE_C)
    await add_pass(engine, "KHPS113-000002", "A123456789", verified_phone=PHONE_A)
    await add_pass(engine, "KHPS113-000001", "A123456789", verified_phone=PHONE_B)
    await add_pass(engine, "KHPS113-000003", "B223456780")
    await add_pass(engine, "KHPS113-000034", "X123456789")
    await add_pass(engine, "TCPS113-000101", "B223456780", company=OTHER, verified_phone=PHONE_B)
    await add_pass(engine, "KHPS111-000014", "Z123456789", verified_phone=PHONE_C)
    await delete_person(engine, "Z123456789")


@pytest.fixture
async def registry(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    await seed_registry(engine)
    return uow_factory


async def test_get_joins_the_person_record(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        record = await uow.passes.get(PassNumber("KHPS113-000002"))
    assert record is not None
    assert record.pass_no == PassNumber("KHPS113-000002")
    assert record.id_no == IdNumber("A123456789")
    assert (record.name, record.phone, record.verified_phone) == ("甲", PHONE_A, PHONE_A)
    assert (record.valid_from, record.valid_to) == (date(2026, 1, 5), date(2027, 1, 4))
    assert record.company == "高雄港測試業者"
    assert record.verified_at == T0
    assert record.verified_at.tzinfo is not None


async def test_get_unknown_pass_is_none(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        assert await uow.passes.get(PassNumber("KHPS113-999999")) is None


async def test_pass_of_deleted_person_has_no_name_or_phone(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        record = await uow.passes.get(PassNumber("KHPS111-000014"))
    assert record is not None
    assert (record.name, record.phone, record.verified_phone) == (None, None, PHONE_C)
    assert status_of(record) is Status.PENDING


async def test_list_is_ordered_by_pass_number(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        records = await uow.passes.list()
    numbers = [r.pass_no.value for r in records]
    assert numbers == sorted(numbers)
    assert len(numbers) == 6


async def test_list_filters_by_company(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        records = await uow.passes.list(company=OTHER)
    assert [r.pass_no.value for r in records] == ["TCPS113-000101"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.VERIFIED, ["KHPS113-000002", "TCPS113-000101"]),
        (Status.PENDING, ["KHPS111-000014", "KHPS113-000001"]),
        (Status.UNVERIFIED, ["KHPS113-000003", "KHPS113-000034"]),
    ],
)
async def test_list_filters_by_derived_status(
    registry: SqlUnitOfWorkFactory, status: Status, expected: list[str]
) -> None:
    async with registry() as uow:
        records = await uow.passes.list(status=status)
    assert [r.pass_no.value for r in records] == expected
    assert all(status_of(r) is status for r in records)


async def test_list_by_pass_numbers_and_pages(registry: SqlUnitOfWorkFactory) -> None:
    wanted = [PassNumber(n) for n in ("TCPS113-000101", "KHPS113-000003", "NO999-000000")]
    async with registry() as uow:
        chosen = await uow.passes.list(pass_nos=wanted)
        none = await uow.passes.list(pass_nos=[])
        page = await uow.passes.list(offset=1, limit=2)
        filtered_page = await uow.passes.list(
            company="高雄港測試業者", status=Status.PENDING, limit=1
        )
    assert [r.pass_no.value for r in chosen] == ["KHPS113-000003", "TCPS113-000101"]
    assert none == []
    assert [r.pass_no.value for r in page] == ["KHPS113-000001", "KHPS113-000002"]
    assert [r.pass_no.value for r in filtered_page] == ["KHPS111-000014"]


async def test_count_by_status(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        everyone = await uow.passes.count_by_status()
        other = await uow.passes.count_by_status(company=OTHER)
        nobody = await uow.passes.count_by_status(company="no such company")
    assert everyone == {Status.VERIFIED: 2, Status.PENDING: 2, Status.UNVERIFIED: 2}
    assert other == {Status.VERIFIED: 1, Status.PENDING: 0, Status.UNVERIFIED: 0}
    assert nobody == dict.fromkeys(Status, 0)


async def test_with_phone_finds_passes_by_phone_on_file(registry: SqlUnitOfWorkFactory) -> None:
    async with registry() as uow:
        by_b = await uow.passes.with_phone(PHONE_B)
        by_c = await uow.passes.with_phone(PHONE_C)  # only a deleted person had it
    assert [r.pass_no.value for r in by_b] == ["KHPS113-000003", "TCPS113-000101"]
    assert by_c == []


async def test_set_verified_phone_makes_the_pass_verified(registry: SqlUnitOfWorkFactory) -> None:
    at = datetime(2026, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    async with registry() as uow:
        await uow.passes.set_verified_phone(PassNumber("KHPS113-000003"), PHONE_B, at)
        await uow.commit()
    async with registry() as uow:
        record = await uow.passes.get(PassNumber("KHPS113-000003"))
    assert record is not None
    assert status_of(record) is Status.VERIFIED
    assert record.verified_at == at
    assert record.verified_at.utcoffset() == timedelta(0)  # given back in UTC


async def test_set_person_phone_makes_other_verified_passes_pending(
    registry: SqlUnitOfWorkFactory,
) -> None:
    async with registry() as uow:
        await uow.passes.set_person_phone(IdNumber("A123456789"), PHONE_B, T0)
        await uow.passes.set_person_phone(IdNumber("Z123456789"), PHONE_B, T0)  # deleted: no-op
        await uow.commit()
    async with registry() as uow:
        records = {r.pass_no.value: r for r in await uow.passes.list()}
    assert records["KHPS113-000002"].phone == PHONE_B
    assert status_of(records["KHPS113-000002"]) is Status.PENDING
    assert status_of(records["KHPS113-000001"]) is Status.VERIFIED  # was verified to B
    assert records["KHPS111-000014"].name is None


PERSON_STATES = ["missing", "no phone", "A", "B"]
VERIFIED_STATES = [None, "A", "B"]


async def test_sql_status_matches_core_for_every_combination(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """R7 as the CASE in storage/status.py against core.status.derive_status."""
    phones = {"A": PHONE_A, "B": PHONE_B}
    expected: dict[str, Status] = {}
    combos = itertools.product(PERSON_STATES, VERIFIED_STATES)
    for serial, (person, verified) in enumerate(combos, start=1):
        id_no, pass_no = f"TEST{serial:04d}", f"KHPS113-{serial:06d}"
        on_file: Phone | None = phones.get(person)
        if person != "missing":
            await add_person(engine, id_no, phone=on_file)
        verified_phone = phones[verified] if verified else None
        await add_pass(engine, pass_no, id_no, verified_phone=verified_phone)
        expected[pass_no] = derive_status(on_file, verified_phone)

    async with uow_factory() as uow:
        counts = await uow.passes.count_by_status()
        by_status = {s: await uow.passes.list(status=s) for s in Status}
    derived = {r.pass_no.value: s for s, records in by_status.items() for r in records}
    assert derived == expected
    assert set(expected.values()) == set(Status)
    assert counts == {s: sum(1 for v in expected.values() if v is s) for s in Status}


async def test_naive_datetimes_are_refused(registry: SqlUnitOfWorkFactory) -> None:
    naive = datetime(2026, 3, 2, 10, 0)
    async with registry() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.passes.set_verified_phone(PassNumber("KHPS113-000003"), PHONE_B, naive)


def test_t0_is_utc() -> None:
    assert T0.tzinfo is UTC
