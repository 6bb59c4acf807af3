"""The web form's codes-sent-per-address count lives in the database (on PostgreSQL
every ``serve`` process shares it): the 21st send within an hour from one address is
refused, another address is not, and the window slides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.web.verify_form.limits import SENDS_PER_HOUR, count_send, sends_left
from storage.uow import SqlUnitOfWorkFactory

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def test_sends_per_address_slide_over_an_hour(uow_factory: SqlUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for n in range(SENDS_PER_HOUR):
            assert await sends_left(uow, "203.0.113.9", T0 + timedelta(minutes=n)) is None
            await count_send(uow, "203.0.113.9", T0 + timedelta(minutes=n))
        await uow.commit()
    later = T0 + timedelta(minutes=SENDS_PER_HOUR)
    async with uow_factory() as uow:
        wait = await sends_left(uow, "203.0.113.9", later)
        assert wait == (T0 + timedelta(hours=1) - later).total_seconds()
        assert await sends_left(uow, "2001:db8:1:2::/64", later) is None
        assert await sends_left(uow, "203.0.113.9", T0 + timedelta(hours=1, seconds=1)) is None
