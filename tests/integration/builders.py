"""Rows and records for storage tests, written straight into the tables.

Seeding with plain inserts (not the importer) keeps the repository contract tests
independent of the importer, and lets a test delete a person to make a pass pending.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import Channel, Origin, VerificationRequest
from core.values import IdNumber, PassNumber, Phone
from storage.tables import passes, persons

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
PHONE_A = Phone("+886912345678")
PHONE_B = Phone("+886960123411")
PHONE_C = Phone("+886922123422")


async def add_person(
    engine: AsyncEngine, id_no: str, *, name: str = "測試", phone: Phone | None = PHONE_A
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(persons).values(
                id_no=id_no, name=name, phone=phone.e164 if phone else None, updated_at=T0
            )
        )


async def delete_person(engine: AsyncEngine, id_no: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(persons).where(persons.c.id_no == id_no))


async def add_pass(
    engine: AsyncEngine,
    pass_no: str,
    id_no: str,
    *,
    company: str = "高雄港測試業者",
    verified_phone: Phone | None = None,
    valid_from: date = date(2026, 1, 5),
    valid_to: date = date(2027, 1, 4),
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(passes).values(
                pass_no=pass_no,
                id_no=id_no,
                company=company,
                valid_from=valid_from,
                valid_to=valid_to,
                verified_phone=verified_phone.e164 if verified_phone else None,
                verified_at=T0 if verified_phone else None,
                updated_at=T0,
            )
        )


def request(
    request_id: str = "req-1",
    *,
    pass_no: str = "KHPS113-000043",  # noqa: S107 - a pass number, not a password
    id_no: str = "QQ12345673",
    phone: Phone = PHONE_A,
    created_at: datetime = T0,
    **changes: object,
) -> VerificationRequest:
    base = VerificationRequest(
        id=request_id,
        pass_no=PassNumber(pass_no),
        id_no=IdNumber(id_no),
        phone=phone,
        code_hash=f"code-{request_id}",
        token_hash=f"token-{request_id}",
        created_at=created_at,
        expires_at=created_at + timedelta(hours=24),
        origin=Origin.HOLDER,
        channel=Channel.TELEGRAM,
        language="zh-TW",
    )
    return replace(base, **changes)  # type: ignore[arg-type]
