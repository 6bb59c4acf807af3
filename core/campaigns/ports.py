"""The ports the campaign use cases need: campaigns and their targets in storage, on
a unit of work that has them besides core's other repositories."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from core.campaigns.model import Campaign, CampaignSpec, CampaignState, SkipReason, Target
from core.campaigns.progress import Tally
from core.ports import UnitOfWork

PlanCounts = list[tuple[str, SkipReason | None, int]]


class CampaignRepository(Protocol):
    """Campaigns and their targets. ``create`` selects the targets in the database
    (one INSERT … SELECT), never row by row in Python."""

    async def create(
        self, spec: CampaignSpec, *, now: datetime, valid_on: date, code_ttl: timedelta
    ) -> int: ...

    async def preview(
        self, spec: CampaignSpec, *, now: datetime, valid_on: date, code_ttl: timedelta
    ) -> PlanCounts:
        """What ``create`` would store, counted, storing nothing."""
        ...

    async def plan_counts(self, campaign_id: int) -> PlanCounts:
        """``(company, reason, count)`` of the targets as planned (``reason`` ``None``
        for recipients)."""
        ...

    async def get(self, campaign_id: int, *, lock: bool = False) -> Campaign | None: ...

    async def lock_for_dispatch(
        self, campaign_id: int, now: datetime
    ) -> tuple[Campaign, int] | None:
        """The campaign, its row locked until the unit of work ends, and the
        :meth:`backlog` at ``now``, read in the same statement (one fewer per dispatch);
        ``None`` when another instance holds it (or it does not exist)."""
        ...

    async def summaries(self) -> list[tuple[Campaign, int, int]]:
        """Every campaign, newest first, with its targeted and sent counts."""
        ...

    async def running(self) -> list[int]: ...

    async def update(
        self,
        campaign_id: int,
        now: datetime,
        *,
        state: CampaignState | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        paced_until: datetime | None = None,
    ) -> None: ...

    async def claim_due(self, campaign_id: int, now: datetime, limit: int) -> list[Target]:
        """Up to ``limit`` targets due at ``now``, oldest due first, locked (``SKIP
        LOCKED`` on PostgreSQL) until the unit of work ends."""
        ...

    async def next_due(self, campaign_id: int) -> datetime | None:
        """When the next target comes due (``None``: none ever will)."""
        ...

    async def mark_sent(
        self,
        campaign_id: int,
        pass_no: str,
        request_id: str,
        now: datetime,
        due_at: datetime | None,
    ) -> None: ...

    async def mark_skipped(
        self, campaign_id: int, pass_no: str, reason: SkipReason, now: datetime
    ) -> None: ...

    async def set_due(self, campaign_id: int, pass_no: str, due_at: datetime | None) -> None: ...

    async def backlog(self, now: datetime) -> int:
        """Campaign SMS waiting in the outbox: due and pending, or being sent."""
        ...

    async def tally(self, campaign_id: int, now: datetime) -> list[Tally]:
        """Per company, ordered by company."""
        ...


class CampaignUnitOfWork(UnitOfWork, Protocol):
    @property
    def campaigns(self) -> CampaignRepository: ...


class CampaignUnitOfWorkFactory(Protocol):
    def __call__(self) -> CampaignUnitOfWork: ...
