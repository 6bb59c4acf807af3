"""The opt-out table on SQLite and PostgreSQL: what the SMS channel records, the outbox
and the code requests check, and campaigns join against."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.opt_outs.model import OptOut, OptOutSource
from storage.opt_outs import is_opted_out, not_opted_out
from storage.tables import persons
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import PHONE_A, PHONE_B, PHONE_C, T0, add_person

STOP = OptOut(PHONE_A, T0, OptOutSource.KEYWORD, "STOP")


async def test_an_opted_out_phone_stays_opted_out_until_it_opts_back_in(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.opt_outs.add(STOP)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.opt_outs.is_opted_out(PHONE_A)
        assert not await uow.opt_outs.is_opted_out(PHONE_B)
        assert await uow.opt_outs.get(PHONE_A) == STOP  # time back aware, in UTC
        assert await uow.opt_outs.remove(PHONE_A)
        assert not await uow.opt_outs.remove(PHONE_A)  # nothing left to remove
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.opt_outs.is_opted_out(PHONE_A)
        assert await uow.opt_outs.get(PHONE_A) is None


async def test_a_later_provider_refusal_keeps_the_first_opt_out(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    refusal = OptOut(PHONE_A, T0 + timedelta(hours=1), OptOutSource.PROVIDER, "21610")
    async with uow_factory() as uow:
        assert await uow.opt_outs.add(STOP)
        assert not await uow.opt_outs.add(refusal)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.opt_outs.get(PHONE_A) == STOP


async def test_an_opt_out_in_a_rolled_back_unit_is_not_kept(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.opt_outs.add(STOP)
        # the turn fails here: no commit
    async with uow_factory() as uow:
        assert not await uow.opt_outs.is_opted_out(PHONE_A)


async def test_among_names_only_the_opted_out_phones(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.opt_outs.add(STOP)
        await uow.opt_outs.add(OptOut(PHONE_C, T0, OptOutSource.PROVIDER, "21610"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.opt_outs.among([PHONE_A, PHONE_B, PHONE_C, PHONE_A]) == {
            PHONE_A,
            PHONE_C,
        }
        assert await uow.opt_outs.among([PHONE_B]) == set()
        assert await uow.opt_outs.among([]) == set()


async def test_a_selection_of_phones_leaves_opted_out_ones_out_in_sql(
    engine: AsyncEngine, uow_factory: SqlUnitOfWorkFactory
) -> None:
    """What a campaign does: one statement over persons, opted-out phones excluded."""
    await add_person(engine, "A123456789", phone=PHONE_A)
    await add_person(engine, "B223456780", phone=PHONE_B)
    await add_person(engine, "C123456788", phone=None)
    async with uow_factory() as uow:
        await uow.opt_outs.add(STOP)
        await uow.commit()

    async with engine.connect() as conn:
        textable = select(persons.c.id_no).where(
            persons.c.phone.is_not(None), not_opted_out(persons.c.phone)
        )
        opted_out = select(persons.c.id_no).where(is_opted_out(persons.c.phone))
        assert list((await conn.execute(textable)).scalars()) == ["B223456780"]
        assert list((await conn.execute(opted_out)).scalars()) == ["A123456789"]
