"""The campaign use cases an admin drives: plan (or dry-run) a campaign, start, pause,
resume and cancel it, and read its progress and report. Every action is audited.
Sending is :mod:`core.campaigns.dispatch`; the service hands ``dispatch`` to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.campaigns.dispatch import CampaignDispatch, CampaignPolicy, Dispatched
from core.campaigns.model import (
    Campaign,
    CampaignNotFound,
    CampaignSpec,
    CampaignState,
    CampaignStateConflict,
    Plan,
    audit_entry,
    plan_rows,
)
from core.campaigns.ports import CampaignUnitOfWork, CampaignUnitOfWorkFactory
from core.campaigns.progress import Progress, Tally, total
from core.clock import TAIPEI
from core.ports import Clock
from core.verification.service import VerificationService

__all__ = ["CampaignPolicy", "CampaignService", "Dispatched"]


def _transition(action: str) -> tuple[tuple[CampaignState, ...], CampaignState]:
    return _TRANSITIONS[action]


_TRANSITIONS: dict[str, tuple[tuple[CampaignState, ...], CampaignState]] = {
    "start": ((CampaignState.PLANNED,), CampaignState.RUNNING),
    "pause": ((CampaignState.RUNNING,), CampaignState.PAUSED),
    "resume": ((CampaignState.PAUSED,), CampaignState.RUNNING),
    "cancel": (
        (CampaignState.PLANNED, CampaignState.RUNNING, CampaignState.PAUSED),
        CampaignState.CANCELLED,
    ),
}


class CampaignService:
    def __init__(
        self,
        uow: CampaignUnitOfWorkFactory,
        clock: Clock,
        verification: VerificationService,
        policy: CampaignPolicy,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.policy = policy
        self._dispatch = CampaignDispatch(uow, clock, verification, policy)

    def effective_rate(self, campaign: Campaign) -> float:
        return self._dispatch.effective_rate(campaign)

    # --- planning --------------------------------------------------------------------

    async def create(
        self,
        spec: CampaignSpec,
        *,
        dry_run: bool,
        actor: str = "cli",
        show: Callable[[Plan], None] | None = None,
    ) -> Plan:
        """Select the passes and count the plan; store it as ``planned`` unless
        ``dry_run`` (which stores nothing at all). ``show`` gets the plan before it is
        committed: the admin sees what is stored before it is, and if showing it fails
        (a closed pipe), nothing is."""
        now = self._clock.now()
        valid_on = now.astimezone(TAIPEI).date()
        ttl = self.policy.code_ttl
        async with self._uow() as uow:
            if dry_run:
                counts = await uow.campaigns.preview(spec, now=now, valid_on=valid_on, code_ttl=ttl)
                preview = Plan(spec, valid_on, plan_rows(counts), self.policy.cost)
                if show is not None:
                    show(preview)
                return preview
            campaign_id = await uow.campaigns.create(spec, now=now, valid_on=valid_on, code_ttl=ttl)
            plan = Plan(
                spec,
                valid_on,
                plan_rows(await uow.campaigns.plan_counts(campaign_id)),
                self.policy.cost,
                campaign_id,
            )
            await self._audit(
                uow,
                actor,
                "campaign.create",
                campaign_id,
                now,
                name=spec.name,
                recipients=str(plan.recipients),
                skipped=str(plan.skipped_total),
                window=str(spec.window),
                rate=f"{spec.rate:g}",
                reminders=str(spec.reminders),
            )
            if show is not None:
                show(plan)
            await uow.commit()
        return plan

    # --- state changes ---------------------------------------------------------------

    async def start(self, campaign_id: int, actor: str = "cli") -> Campaign:
        return await self._change(campaign_id, "start", actor)

    async def pause(self, campaign_id: int, actor: str = "cli") -> Campaign:
        return await self._change(campaign_id, "pause", actor)

    async def resume(self, campaign_id: int, actor: str = "cli") -> Campaign:
        return await self._change(campaign_id, "resume", actor)

    async def cancel(self, campaign_id: int, actor: str = "cli") -> Campaign:
        return await self._change(campaign_id, "cancel", actor)

    async def _change(self, campaign_id: int, action: str, actor: str) -> Campaign:
        allowed, new_state = _transition(action)
        now = self._clock.now()
        async with self._uow() as uow:
            campaign = await uow.campaigns.get(campaign_id, lock=True)
            if campaign is None:
                raise CampaignNotFound(campaign_id=campaign_id)
            if campaign.state not in allowed:
                raise CampaignStateConflict(
                    campaign_id=campaign_id, state=campaign.state, action=action
                )
            started = now if action == "start" else None
            finished = now if new_state is CampaignState.CANCELLED else None
            await uow.campaigns.update(
                campaign_id, now, state=new_state, started_at=started, finished_at=finished
            )
            await self._audit(uow, actor, f"campaign.{action}", campaign_id, now)
            changed = await uow.campaigns.get(campaign_id)
            await uow.commit()
        if changed is None:  # cannot happen: the row is locked
            raise CampaignNotFound(campaign_id=campaign_id)
        return changed

    # --- reading ---------------------------------------------------------------------

    async def get(self, campaign_id: int) -> Campaign:
        async with self._uow() as uow:
            campaign = await uow.campaigns.get(campaign_id)
        if campaign is None:
            raise CampaignNotFound(campaign_id=campaign_id)
        return campaign

    async def summaries(self) -> list[tuple[Campaign, int, int]]:
        async with self._uow() as uow:
            return await uow.campaigns.summaries()

    async def running(self) -> list[int]:
        async with self._uow() as uow:
            return await uow.campaigns.running()

    async def progress(self, campaign_id: int) -> Progress:
        now = self._clock.now()
        async with self._uow() as uow:
            campaign = await uow.campaigns.get(campaign_id)
            if campaign is None:
                raise CampaignNotFound(campaign_id=campaign_id)
            rows = await uow.campaigns.tally(campaign_id, now)
            next_due = await uow.campaigns.next_due(campaign_id)
        totals = total(rows)
        reminder_at = next_due if totals.queued == 0 and totals.reminders_due else None
        return Progress(campaign, totals, now, self.effective_rate(campaign), reminder_at)

    async def report(self, campaign_id: int) -> tuple[Campaign, list[Tally]]:
        now = self._clock.now()
        async with self._uow() as uow:
            campaign = await uow.campaigns.get(campaign_id)
            if campaign is None:
                raise CampaignNotFound(campaign_id=campaign_id)
            return campaign, await uow.campaigns.tally(campaign_id, now)

    # --- sending ---------------------------------------------------------------------

    async def dispatch(self, campaign_id: int) -> Dispatched:
        """Send what the window, the rate and the backlog allow now (see
        :mod:`core.campaigns.dispatch`)."""
        return await self._dispatch.dispatch(campaign_id)

    async def _audit(
        self,
        uow: CampaignUnitOfWork,
        actor: str,
        action: str,
        campaign_id: int,
        now: datetime,
        **detail: str,
    ) -> None:
        await uow.audit.add(audit_entry(actor, action, campaign_id, now, **detail))
