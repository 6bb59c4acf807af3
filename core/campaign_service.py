"""The campaign use cases: plan, start/pause/resume/cancel, dispatch, progress.

Dispatching is the heart of it. ``portpass serve`` calls :meth:`CampaignService.dispatch`
over and over; each call is one transaction that locks the campaign's row (``SKIP
LOCKED`` on PostgreSQL: another instance busy with it means "come back shortly"),
claims the next due targets, and for each makes the ordinary verification request
through :class:`core.verification.VerificationService` (R2, R3, R6 and the validity
check, not a copy of them) with its SMS in the outbox, then marks the target. A crash
before the commit leaves the targets due; after it, their SMS are in the outbox, which
delivers at least once. So no pass is skipped, and none gets two campaign requests.

Pacing lives on the campaign's row (:class:`core.campaigns.Pacer`), so all instances
share one rate. Backpressure keeps at most ``lookahead`` seconds of campaign SMS waiting
in the outbox: codes do not age in a queue, and a holder's own code (which the outbox
sends first) never waits behind a long backlog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from core.campaign_progress import Progress, Tally, total
from core.campaigns import (
    Campaign,
    CampaignNotFound,
    CampaignSpec,
    CampaignState,
    CampaignStateConflict,
    Cost,
    Pacer,
    Plan,
    SkipReason,
    Target,
    is_taiwan_mobile,
    plan_rows,
)
from core.clock import TAIPEI
from core.errors import AlreadyRequested, NoPhoneOnFile, PassNotFound, PassNotValid
from core.masking import mask_pass
from core.model import AuditEntry, Channel, PassRecord, Requester, Status
from core.ports import Clock, UnitOfWork
from core.status import status_of
from core.values import PassNumber
from core.verification import VerificationService

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

    async def lock_for_dispatch(self, campaign_id: int) -> Campaign | None:
        """The campaign, its row locked until the unit of work ends; ``None`` when
        another instance holds it (or it does not exist)."""
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


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    """Numbers from config (code TTL, the provider rate, the price), and the
    dispatcher's backpressure: at most ``lookahead`` seconds of SMS (at least
    ``min_ahead``) waiting in the outbox, at most ``max_batch`` per transaction."""

    code_ttl: timedelta
    max_per_second: float
    cost: Cost
    language: str = "zh-TW"
    lookahead: float = 2.0
    min_ahead: int = 5
    max_batch: int = 50


@dataclass(frozen=True, slots=True)
class Dispatched:
    """What one dispatch did, and when to call again (``None``: not until the campaign
    changes state). ``why`` says what the wait is for (logs, tests)."""

    sent: int
    skipped: int
    wait_until: datetime | None
    why: str


#: How long to wait when another instance holds the campaign's row.
_BUSY = timedelta(milliseconds=20)


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
        self._verification = verification
        self.policy = policy

    def effective_rate(self, campaign: Campaign) -> float:
        """The campaign's rate, never above ``sms.max_per_second``."""
        return min(campaign.spec.rate, self.policy.max_per_second)

    # --- planning --------------------------------------------------------------------

    async def create(self, spec: CampaignSpec, *, dry_run: bool, actor: str = "cli") -> Plan:
        """Select the passes and count the plan; store it as ``planned`` unless
        ``dry_run`` (which stores nothing at all)."""
        now = self._clock.now()
        valid_on = now.astimezone(TAIPEI).date()
        ttl = self.policy.code_ttl
        async with self._uow() as uow:
            if dry_run:
                counts = await uow.campaigns.preview(spec, now=now, valid_on=valid_on, code_ttl=ttl)
                return Plan(spec, valid_on, plan_rows(counts), self.policy.cost)
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
        """Send what the window, the rate and the backlog allow now, in one transaction."""
        now = self._clock.now()
        async with self._uow() as uow:
            campaign = await uow.campaigns.lock_for_dispatch(campaign_id)
            if campaign is None:
                return Dispatched(0, 0, now + _BUSY, "busy")
            if campaign.state is not CampaignState.RUNNING:
                return Dispatched(0, 0, None, campaign.state.value)
            window = campaign.spec.window
            if not window.contains(now):
                return Dispatched(0, 0, window.next_open(now), "window")
            pacer = Pacer.for_rate(self.effective_rate(campaign))
            allowed = pacer.allowance(campaign.paced_until, now)
            if allowed < 1:
                return Dispatched(0, 0, pacer.next_at(campaign.paced_until, now), "pacing")
            room = self._ahead(pacer.rate) - await uow.campaigns.backlog(now)
            if room < 1:
                pause = min(0.5, max(0.005, 1 / pacer.rate))
                return Dispatched(0, 0, now + timedelta(seconds=pause), "backlog")
            limit = min(allowed, room, self.policy.max_batch)
            targets = await uow.campaigns.claim_due(campaign_id, now, limit)
            if not targets:
                return await self._idle(uow, campaign, now)
            sent = 0
            for target in targets:
                sent += await self._send(uow, campaign, target, now)
            paced_until: datetime | None
            if sent:
                paced_until = pacer.spend(campaign.paced_until, now, sent)
                await uow.campaigns.update(campaign_id, now, paced_until=paced_until)
            else:
                paced_until = campaign.paced_until
            await uow.commit()
        return Dispatched(sent, len(targets) - sent, pacer.next_at(paced_until, now), "sent")

    def _ahead(self, rate: float) -> int:
        return max(self.policy.min_ahead, math.ceil(rate * self.policy.lookahead))

    async def _idle(self, uow: CampaignUnitOfWork, campaign: Campaign, now: datetime) -> Dispatched:
        """Nothing due: done when nothing ever will be, else wait for the next due."""
        next_due = await uow.campaigns.next_due(campaign.id)
        if next_due is not None:
            return Dispatched(0, 0, next_due, "reminders")
        await uow.campaigns.update(campaign.id, now, state=CampaignState.DONE, finished_at=now)
        await self._audit(uow, f"campaign:{campaign.id}", "campaign.done", campaign.id, now)
        await uow.commit()
        return Dispatched(0, 0, None, "done")

    async def _send(
        self, uow: CampaignUnitOfWork, campaign: Campaign, target: Target, now: datetime
    ) -> bool:
        """One target's SMS (its first, or a reminder); ``False`` when skipped."""
        record = await uow.passes.get(PassNumber(target.pass_no), lock=True)
        reason = await self._skip_reason(uow, record)
        if target.sends > 0:
            return await self._remind(uow, campaign, target, record, reason, now)
        if reason is not None:
            await self._skip(uow, campaign, target, reason, now)
            return False
        return await self._request(uow, campaign, target, now)

    async def _skip_reason(
        self, uow: CampaignUnitOfWork, record: PassRecord | None
    ) -> SkipReason | None:
        """Why this pass gets no SMS now (R2 and validity are core.verification's)."""
        if record is None:
            return SkipReason.PASS_GONE
        if record.phone is None:
            return SkipReason.NO_PHONE
        if status_of(record) is Status.VERIFIED:
            return SkipReason.VERIFIED
        if await uow.opt_outs.is_opted_out(record.phone):
            return SkipReason.OPTED_OUT
        if not is_taiwan_mobile(record.phone):
            return SkipReason.NOT_TW_MOBILE
        return None

    async def _request(
        self, uow: CampaignUnitOfWork, campaign: Campaign, target: Target, now: datetime
    ) -> bool:
        """The ordinary verification request, made now, in this transaction."""
        try:
            sent = await self._verification.request_for_campaign(
                self._requester(campaign), PassNumber(target.pass_no), uow=uow
            )
        except AlreadyRequested:
            reason = SkipReason.LIVE_REQUEST
        except PassNotValid:
            reason = SkipReason.NOT_VALID
        except NoPhoneOnFile:
            reason = SkipReason.NO_PHONE
        except PassNotFound:
            reason = SkipReason.PASS_GONE
        else:
            due = campaign.spec.reminder_due(target.sends + 1, now)
            await uow.campaigns.mark_sent(campaign.id, target.pass_no, sent.request_id, now, due)
            return True
        await self._skip(uow, campaign, target, reason, now)
        return False

    async def _remind(
        self,
        uow: CampaignUnitOfWork,
        campaign: Campaign,
        target: Target,
        record: PassRecord | None,
        reason: SkipReason | None,
        now: datetime,
    ) -> bool:
        """A reminder to a pass still not verified: a new request once the old code has
        expired. While a code is live (R2 allows no second one within 24 h) the reminder
        waits for its expiry: the live code itself cannot be sent again, because nothing
        is kept from which to read it once the provider has accepted its SMS (codes are
        stored only as keyed hashes)."""
        if reason is SkipReason.VERIFIED:
            await uow.campaigns.set_due(campaign.id, target.pass_no, None)
            return False
        if reason is not None or record is None or record.phone is None:
            await self._skip(uow, campaign, target, reason or SkipReason.PASS_GONE, now)
            return False
        since = now - self.policy.code_ttl
        live = await uow.requests.latest_for(record.pass_no, record.id_no, record.phone, since)
        if live is not None:
            lock_ends = max(live.created_at + self.policy.code_ttl, now + timedelta(seconds=1))
            await uow.campaigns.set_due(campaign.id, target.pass_no, lock_ends)
            return False
        if not await self._request(uow, campaign, target, now):
            return False
        await self._audit(
            uow,
            f"campaign:{campaign.id}",
            "campaign.reminder",
            campaign.id,
            now,
            pass_no=mask_pass(record.pass_no),
            reminder=str(target.sends),
        )
        return True

    async def _skip(
        self,
        uow: CampaignUnitOfWork,
        campaign: Campaign,
        target: Target,
        reason: SkipReason,
        now: datetime,
    ) -> None:
        await uow.campaigns.mark_skipped(campaign.id, target.pass_no, reason, now)
        await self._audit(
            uow,
            f"campaign:{campaign.id}",
            "campaign.skip",
            campaign.id,
            now,
            pass_no=mask_pass(PassNumber(target.pass_no)),
            reason=reason.value,
        )

    def _requester(self, campaign: Campaign) -> Requester:
        who = f"campaign:{campaign.id}"
        return Requester(key=who, channel=Channel.CLI, actor=who, language=self.policy.language)

    async def _audit(
        self,
        uow: CampaignUnitOfWork,
        actor: str,
        action: str,
        campaign_id: int,
        now: datetime,
        **detail: str,
    ) -> None:
        entry = AuditEntry(
            at=now,
            actor=actor,
            channel=Channel.CLI,
            action=action,
            subject=f"campaign:{campaign_id}",
            detail=detail,
        )
        await uow.audit.add(entry)
