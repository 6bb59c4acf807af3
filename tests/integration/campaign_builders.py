"""A registry with one pass for each selection rule of a campaign, and the services a
campaign test runs on (real SQLite or PostgreSQL, a fake clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.campaigns.model import Cost
from core.campaigns.service import CampaignPolicy, CampaignService
from core.codes import SecretHasher, SystemSecrets
from core.model import RequestState
from core.values import Phone
from core.verification.service import Policy, VerificationService
from fakes.clock import FakeClock
from storage.tables import outbox, verification_requests
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import SEALER
from tests.integration.builders import add_pass, add_person, request

COMPANY, OTHER = "高雄港測試業者", "台中港測試業者"
COST = Cost(segments_per_sms=1, encoding="UCS-2", price_per_segment=0.05, currency="USD")


def phone(n: int) -> Phone:
    return Phone(f"+8869{60000000 + n:08d}")


@dataclass
class Harness:
    engine: AsyncEngine
    clock: FakeClock
    uow: SqlUnitOfWorkFactory
    verification: VerificationService
    campaigns: CampaignService

    async def count(self, table: object, *where: object) -> int:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        if where:
            query = query.where(*where)  # type: ignore[arg-type]
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def drain(self) -> None:
        """What the outbox worker would do: every queued SMS handed to the provider."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(outbox).where(outbox.c.state == "pending").values(state="sent")
            )


def harness(engine: AsyncEngine, clock: FakeClock, **policy: object) -> Harness:
    uow = SqlUnitOfWorkFactory(engine, sealer=SEALER)  # campaign SMS carry codes: sealed
    verification = VerificationService(
        uow, clock, SecretHasher(b"c" * 32), SystemSecrets(), Policy("https://pp.example.tw")
    )
    settings: dict[str, object] = {
        "code_ttl": timedelta(hours=24),
        "max_per_second": 1000.0,
        "cost": COST,
        **policy,
    }
    service = CampaignService(uow, clock, verification, CampaignPolicy(**settings))  # type: ignore[arg-type]
    return Harness(engine, clock, uow, verification, service)


async def add_holder(
    engine: AsyncEngine,
    n: int,
    *,
    company: str = COMPANY,
    phone_on_file: Phone | str | None = "default",
    verified_phone: Phone | None = None,
    valid_from: date = date(2026, 1, 5),
    valid_to: date = date(2027, 1, 4),
    person: bool = True,
    prefix: str = "KHPS113",
) -> str:
    """Pass ``{prefix}-{n:06d}`` of holder ``ID{n:08d}``; returns the pass number."""
    pass_no, id_no = f"{prefix}-{n:06d}", f"ID{n:08d}"
    on_file = phone(n) if phone_on_file == "default" else phone_on_file
    if person:
        await add_person(engine, id_no, phone=on_file)  # type: ignore[arg-type]
    await add_pass(
        engine,
        pass_no,
        id_no,
        company=company,
        verified_phone=verified_phone,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    return pass_no


async def add_request(
    engine: AsyncEngine,
    n: int,
    clock: FakeClock,
    *,
    age: timedelta,
    state: RequestState = RequestState.LIVE,
) -> None:
    """A request for holder ``n`` made ``age`` ago."""
    created = clock.now() - age
    row = request(
        f"req-{n}-{age.total_seconds():g}",
        pass_no=f"KHPS113-{n:06d}",
        id_no=f"ID{n:08d}",
        phone=phone(n),
        created_at=created,
        state=state,
    )
    async with engine.begin() as conn:
        await conn.execute(
            insert(verification_requests).values(
                id=row.id,
                pass_no=row.pass_no.value,
                id_no=row.id_no.value,
                phone=row.phone.e164,
                code_hash=row.code_hash,
                token_hash=row.token_hash,
                created_at=row.created_at,
                expires_at=row.expires_at,
                origin=row.origin.value,
                channel=row.channel.value,
                language=row.language,
                state=row.state.value,
            )
        )
