"""The app starts on a fresh database, migrates it, loads the demo registry, and says
it is healthy."""

from __future__ import annotations

from core.values import PassNumber
from tests.e2e.conftest import AppClient, services_of


async def test_healthz_reports_ok_with_the_database(client: AppClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_demo_registry_is_loaded_once(client: AppClient) -> None:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse("KHPS113-000043"))
        everything = await uow.passes.list()
    assert record is not None and record.name == "檢訊測試三"
    assert len(everything) == 21
