"""Migration 0012 on a database with requests that wrong codes had spent: they become live
again, their wrong codes put on the participant who asked, so a holder a stranger had
locked out gets their link and their own chat back at the upgrade."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import column, insert, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import RequestState
from storage.migrate import upgrade
from storage.tables import verification_requests as requests
from storage.uow import SqlUnitOfWorkFactory
from tests.integration.builders import T0

_COLUMNS = (
    "id", "pass_no", "id_no", "phone", "code_hash", "token_hash", "created_at", "expires_at",
    "origin", "channel", "language", "state", "failed_attempts", "update_person_phone",
    "operator_id", "finished_at", "requester_key", "phone_on_file",
)  # fmt: skip
_old_requests = table("verification_requests", *(column(name) for name in _COLUMNS))


def _row(request_id: str, **changes: object) -> dict[str, object]:
    at = T0.replace(tzinfo=None)
    return {
        "id": request_id,
        "pass_no": "KHPS113-000043",
        "id_no": "QQ12345673",
        "phone": "+886960123411",
        "code_hash": f"code-{request_id}",
        "token_hash": f"token-{request_id}",
        "created_at": at,
        "expires_at": at + timedelta(hours=24),
        "origin": "holder",
        "channel": "telegram",
        "language": "zh-TW",
        "state": "live",
        "failed_attempts": 0,
        "update_person_phone": False,
        "operator_id": None,
        "finished_at": None,
        "requester_key": "telegram:42",
        "phone_on_file": "+886960123411",
        **changes,
    }


async def test_upgrade_makes_spent_requests_live_and_locks_out_whoever_spent_them(
    empty_engine: AsyncEngine,
) -> None:
    await upgrade(empty_engine, "0011_send_rate")
    spent_at = (T0 + timedelta(minutes=5)).replace(tzinfo=None)
    async with empty_engine.begin() as conn:
        await conn.execute(
            insert(_old_requests),
            [
                _row("spent", state="spent", failed_attempts=5, finished_at=spent_at),
                _row("spent-unknown", state="spent", failed_attempts=5, requester_key=None),
                _row("live", failed_attempts=2),
                _row("verified", state="verified", finished_at=spent_at),
            ],
        )

    await upgrade(empty_engine)

    async with empty_engine.connect() as conn:
        rows = {
            row.id: row
            for row in await conn.execute(
                select(requests.c.id, requests.c.state, requests.c.finished_at)
            )
        }
    assert {name: row.state for name, row in rows.items()} == {
        "spent": "live",
        "spent-unknown": "live",
        "live": "live",
        "verified": "verified",
    }
    assert rows["spent"].finished_at is None
    assert rows["verified"].finished_at is not None
    async with SqlUnitOfWorkFactory(empty_engine)() as uow:
        spent = await uow.requests.get("spent")
        unknown = await uow.requests.get("spent-unknown")
        live = await uow.requests.get("live")
    assert spent is not None and unknown is not None and live is not None
    assert spent.state is RequestState.LIVE and spent.failed_attempts == 5
    assert spent.participants == {"telegram:42": 5}  # the one who asked stays locked out
    assert unknown.participants == {}
    assert live.participants == {}  # the column's default for every other row
