"""Migration 0003 on a database with requests in flight: who asked and the phone on file
are filled in as well as can be known, so live codes keep working after the upgrade."""

from __future__ import annotations

import json

from sqlalchemy import column, insert, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.migrate import upgrade
from storage.tables import verification_requests as requests
from tests.integration.builders import T0

_old_requests = table(  # the table as 0002 left it
    "verification_requests",
    *(
        column(name)
        for name in (
            "id", "pass_no", "id_no", "phone", "code_hash", "token_hash", "created_at",
            "expires_at", "origin", "channel", "language", "state", "failed_attempts",
            "update_person_phone", "operator_id",
        )
    ),
)  # fmt: skip
_persons = table("persons", column("id_no"), column("name"), column("phone"), column("updated_at"))
_conversations = table("conversations", column("key"), column("state"), column("updated_at"))


def _row(request_id: str, **changes: object) -> dict[str, object]:
    return {
        "id": request_id,
        "pass_no": "KHPS113-000043",
        "id_no": "QQ12345673",
        "phone": "+886960123411",
        "code_hash": f"code-{request_id}",
        "token_hash": f"token-{request_id}",
        "created_at": T0.replace(tzinfo=None),
        "expires_at": T0.replace(tzinfo=None, hour=23),
        "origin": "holder",
        "channel": "telegram",
        "language": "zh-TW",
        "state": "live",
        "failed_attempts": 0,
        "update_person_phone": False,
        "operator_id": None,
        **changes,
    }


async def test_upgrade_fills_in_who_asked_and_the_phone_on_file(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine, "0002")
    waiting = {"step": "await_code", "request_id": "chat", "own_passes": []}
    async with empty_engine.begin() as conn:
        await conn.execute(
            insert(_persons).values(
                id_no="QQ12345673", name="檢訊測試三", phone="+886960123411", updated_at=T0
            )
        )
        await conn.execute(
            insert(_old_requests),
            [
                _row("chat"),
                _row("orphan", token_hash="token-orphan"),
                _row(
                    "op-new",
                    origin="operator",
                    phone="+886912345678",
                    update_person_phone=True,
                    operator_id="ab12cd34",
                ),
            ],
        )
        await conn.execute(
            insert(_conversations).values(
                key="telegram:42", state=json.dumps(waiting), updated_at=T0
            )
        )

    await upgrade(empty_engine)

    query = select(requests.c.id, requests.c.requester_key, requests.c.phone_on_file)
    async with empty_engine.connect() as conn:
        rows = {row.id: (row.requester_key, row.phone_on_file) for row in await conn.execute(query)}
    assert rows == {
        "chat": ("telegram:42", "+886960123411"),
        "orphan": (None, "+886960123411"),  # its code still works from the phone or link
        "op-new": ("operator:ab12cd34", "+886960123411"),  # the phone on file at upgrade
    }
