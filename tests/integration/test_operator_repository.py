"""OperatorRepository contract on SQLite and PostgreSQL, and the operator service on it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.codes import SecretHasher, SystemSecrets
from core.errors import InvalidLinkCode
from core.model import Status
from core.operators.accounts import OperatorAccount
from core.operators.lifecycle import OperatorLifecycle
from core.operators.passes import OperatorService
from core.opt_outs.model import OptOut, OptOutSource
from core.values import PassNumber
from fakes.clock import FakeClock
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, T0, add_pass, add_person

KH, TC = "高雄港測試業者", "臺中港測試公司"


def account(operator_id: str = "ab12cd34", **changes: object) -> OperatorAccount:
    base = OperatorAccount(
        id=operator_id,
        name="王小明",
        company=KH,
        is_admin=False,
        created_at=T0,
        link_code_hash=f"hash-{operator_id}",
        link_code_expires_at=T0 + timedelta(hours=24),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def add(uow_factory: SqlUnitOfWorkFactory, *accounts: OperatorAccount) -> None:
    async with uow_factory() as uow:
        for a in accounts:
            await uow.operators.add(a)
        await uow.commit()


async def test_add_and_read_back(uow_factory: SqlUnitOfWorkFactory) -> None:
    admin = account(
        "ef56ab78",
        name="管理員",
        company=TC,
        is_admin=True,
        link_code_hash=None,
        link_code_expires_at=None,
    )
    await add(uow_factory, account(), admin)
    async with uow_factory() as uow:
        assert await uow.operators.get("ab12cd34") == account()
        assert await uow.operators.get("ef56ab78") == admin
        assert await uow.operators.get("nope") is None
        assert await uow.operators.by_link_code_hash("hash-ab12cd34") == account()
        assert await uow.operators.by_link_code_hash("hash-ef56ab78") is None


async def test_times_come_back_aware_and_in_utc(uow_factory: SqlUnitOfWorkFactory) -> None:
    taipei = timezone(timedelta(hours=8))
    await add(uow_factory, account(created_at=T0.astimezone(taipei)))
    async with uow_factory() as uow:
        stored = await uow.operators.get("ab12cd34")
    assert stored is not None
    assert stored.created_at == T0 and stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.link_code_expires_at == T0 + timedelta(hours=24)


async def test_list_is_oldest_first(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(
        uow_factory,
        account("00000003", created_at=T0 + timedelta(minutes=1), link_code_hash="h3"),
        account("00000002", link_code_hash="h2"),
        account("00000001", link_code_hash="h1"),
    )
    async with uow_factory() as uow:
        assert [a.id for a in await uow.operators.list()] == ["00000001", "00000002", "00000003"]


async def test_bind_and_unbind_telegram(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(uow_factory, account())
    async with uow_factory() as uow:
        await uow.operators.bind_telegram("ab12cd34", "700000001")
        await uow.commit()
    async with uow_factory() as uow:
        bound = await uow.operators.by_telegram_user("700000001")
        assert bound is not None and bound.id == "ab12cd34" and bound.is_linked
        await uow.operators.bind_telegram("ab12cd34", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.operators.by_telegram_user("700000001") is None


async def test_a_telegram_user_binds_one_account(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(
        uow_factory,
        account("00000001", link_code_hash="h1"),
        account("00000002", link_code_hash="h2"),
    )
    async with uow_factory() as uow:
        await uow.operators.bind_telegram("00000001", "700000001")
        with pytest.raises(IntegrityError):
            await uow.operators.bind_telegram("00000002", "700000001")


async def test_link_code_hashes_are_unique(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(uow_factory, account("00000001", link_code_hash="same"))
    with pytest.raises(IntegrityError):
        await add(uow_factory, account("00000002", link_code_hash="same"))


async def test_set_and_spend_a_link_code(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(uow_factory, account())
    later = T0 + timedelta(days=2)
    async with uow_factory() as uow:
        await uow.operators.set_link_code("ab12cd34", "new-hash", later)
        assert await uow.operators.by_link_code_hash("hash-ab12cd34") is None
        assert not await uow.operators.spend_link_code("ab12cd34", "hash-ab12cd34")
        assert await uow.operators.spend_link_code("ab12cd34", "new-hash")
        assert not await uow.operators.spend_link_code("ab12cd34", "new-hash")
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.operators.get("ab12cd34")
    assert stored is not None
    assert (stored.link_code_hash, stored.link_code_expires_at) == (None, None)


async def test_revoke_unbinds_and_drops_the_code(uow_factory: SqlUnitOfWorkFactory) -> None:
    await add(uow_factory, account(telegram_user_id="700000001"))
    async with uow_factory() as uow:
        await uow.operators.revoke("ab12cd34", T0 + timedelta(hours=1))
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.operators.get("ab12cd34")
    assert stored == account(
        revoked_at=T0 + timedelta(hours=1),
        telegram_user_id=None,
        link_code_hash=None,
        link_code_expires_at=None,
    )


async def test_uncommitted_changes_roll_back(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.operators.add(account())
    async with uow_factory() as uow:
        assert await uow.operators.list() == []


async def test_two_links_with_one_code_bind_one_chat(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Two ``/link`` messages at once: the conditional spend lets exactly one through."""
    clock = FakeClock(T0)
    service = OperatorLifecycle(uow_factory, clock, SecretHasher(b"k" * 32), SystemSecrets())
    _, link = await service.add_operator("王小明", KH)
    results = await asyncio.gather(
        service.link("700000001", link.code),
        service.link("700000002", link.code),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["InvalidLinkCode", "Operator"]
    bound = [u for u in ("700000001", "700000002") if await service.operator_for(u)]
    assert len(bound) == 1


# --- the service on a real database ---------------------------------------------------------------


@pytest.fixture
async def registry(engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    await add_person(engine, "A123456789", name="甲", phone=PHONE_A)
    await add_person(engine, "B223456780", name="乙", phone=PHONE_B)
    for n in range(1, 13):
        verified = PHONE_A if n % 3 == 0 else None
        await add_pass(engine, f"KHPS113-{n:06d}", "A123456789", verified_phone=verified)
    await add_pass(engine, "TCPS113-000101", "B223456780", company=TC)
    return uow_factory


async def test_the_operator_service_end_to_end(registry: SqlUnitOfWorkFactory) -> None:
    clock = FakeClock(T0)
    lifecycle = OperatorLifecycle(registry, clock, SecretHasher(b"k" * 32), SystemSecrets())
    service = OperatorService(registry, clock)
    account_, link = await lifecycle.add_operator("王小明", KH)
    operator = await lifecycle.link("700000001", link.code.lower())
    assert operator.id == account_.id
    with pytest.raises(InvalidLinkCode):
        await lifecycle.link("700000002", link.code)

    first = await service.list_passes(operator)
    second = await service.list_passes(operator, page=1)
    assert (first.total, len(first.rows), len(second.rows), second.has_next) == (12, 10, 2, False)
    assert first.rows[0].id_no == "A12*****89" and first.rows[0].phone == "0912-***-678"
    verified = await service.list_passes(operator, status=Status.VERIFIED)
    assert [r.pass_no.value[-2:] for r in verified.rows] == ["03", "06", "09", "12"]

    own = await service.get_pass(operator, PassNumber("KHPS113-000003"))
    other = await service.get_pass(operator, PassNumber("TCPS113-000101"))
    assert own.owned and own.id_no == "A123456789"
    assert not other.owned and other.id_no == "B22*****80" and other.company is None

    stats = await service.stats(operator)
    assert stats.counts == {Status.VERIFIED: 4, Status.UNVERIFIED: 8, Status.PENDING: 0}
    assert stats.open_codes == 0
    rows = await service.export_rows(operator)
    assert len(rows) == 12 and {r["company"] for r in rows} == {KH}

    await lifecycle.revoke(account_.id)
    assert await lifecycle.operator_for("700000001") is None


async def test_stats_count_the_passes_whose_phone_opted_out(
    registry: SqlUnitOfWorkFactory,
) -> None:
    """An operator must reach those holders another way: no code or notice gets through."""
    clock = FakeClock(T0)
    lifecycle = OperatorLifecycle(registry, clock, SecretHasher(b"k" * 32), SystemSecrets())
    service = OperatorService(registry, clock)
    kh = await lifecycle.link("700000001", (await lifecycle.add_operator("王", KH))[1].code)
    admin = await lifecycle.link(
        "700000002", (await lifecycle.add_operator("港", "港務公司", is_admin=True))[1].code
    )
    assert (await service.stats(kh)).opted_out == 0

    async with registry() as uow:  # 乙 (TC's holder) texts STOP
        await uow.opt_outs.add(OptOut(PHONE_B, T0, OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    assert (await service.stats(kh)).opted_out == 0  # another company's holder
    assert (await service.stats(admin)).opted_out == 1

    async with registry() as uow:  # 甲, who holds KH's twelve passes
        await uow.opt_outs.add(OptOut(PHONE_A, T0, OptOutSource.KEYWORD, "STOP"))
        await uow.commit()
    assert (await service.stats(kh)).opted_out == 12
    assert (await service.stats(admin)).opted_out == 13
