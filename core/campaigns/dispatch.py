"""Sending a campaign: :meth:`CampaignDispatch.dispatch`, which ``portpass serve``
calls over and over (``bot/campaigns/dispatcher.py``).

Each call is one transaction. It locks the campaign's row (``SKIP LOCKED`` on
PostgreSQL: another instance busy with it means "come back shortly"), claims the next
due targets, and for each makes the ordinary verification request through
:class:`core.verification.service.VerificationService` (R2, R3, R6 and the validity check, not a
copy of them) with its SMS in the outbox at campaign priority, then marks the target. A
crash before the commit leaves the targets due; after it, their SMS are in the outbox,
which delivers at least once. So no pass is skipped, and none gets two campaign
requests.

Pacing lives on the campaign's row (:class:`core.campaigns.schedule.Pacer`), so all
instances share one rate. Backpressure keeps at most ``lookahead`` seconds of campaign
SMS waiting in the outbox: codes do not age in a queue, and a holder's own code (which
the outbox sends first) never waits behind a long backlog.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.campaigns.model import (
    Campaign,
    CampaignState,
    Cost,
    SkipReason,
    Target,
    audit_entry,
    is_taiwan_mobile,
)
from core.campaigns.ports import CampaignUnitOfWork, CampaignUnitOfWorkFactory
from core.campaigns.schedule import Pacer
from core.errors import AlreadyRequested, NoPhoneOnFile, PassNotValid
from core.masking import mask_pass
from core.model import Channel, PassRecord, Requester, Status
from core.ports import Clock
from core.status import status_of
from core.values import PassNumber
from core.verification.service import VerificationService


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    """Numbers from config (code TTL, the provider rate, the price), and the
    dispatcher's backpressure: at most ``lookahead`` seconds of SMS (at least
    ``min_ahead``) waiting in the outbox, at most ``max_batch`` per transaction. Short
    transactions matter on SQLite, where the outbox worker waits for the process's one
    connection while a batch holds it."""

    code_ttl: timedelta
    max_per_second: float
    cost: Cost
    language: str = "zh-TW"
    lookahead: float = 2.0
    min_ahead: int = 5
    max_batch: int = 10


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


class CampaignDispatch:
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

    async def dispatch(self, campaign_id: int) -> Dispatched:
        """Send what the window, the rate and the backlog allow now, in one transaction."""
        now = self._clock.now()
        async with self._uow() as uow:
            locked = await uow.campaigns.lock_for_dispatch(campaign_id, now)
            if locked is None:
                return Dispatched(0, 0, now + _BUSY, "busy")
            campaign, backlog = locked
            if campaign.state is not CampaignState.RUNNING:
                return Dispatched(0, 0, None, campaign.state.value)
            window = campaign.spec.window
            if not window.contains(now):
                return Dispatched(0, 0, window.next_open(now), "window")
            pacer = Pacer.for_rate(self.effective_rate(campaign))
            allowed = pacer.allowance(campaign.paced_until, now)
            if allowed < 1:
                return Dispatched(0, 0, pacer.next_at(campaign.paced_until, now), "pacing")
            room = self._ahead(pacer.rate) - backlog
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
        if reason is not None or record is None:
            await self._skip(uow, campaign, target, reason or SkipReason.PASS_GONE, now)
            return False
        return await self._request(uow, campaign, target, record, now)

    async def _skip_reason(
        self, uow: CampaignUnitOfWork, record: PassRecord | None
    ) -> SkipReason | None:
        """Why this pass gets no SMS now (R2 and validity are core.verification.service's)."""
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
        self,
        uow: CampaignUnitOfWork,
        campaign: Campaign,
        target: Target,
        record: PassRecord,
        now: datetime,
    ) -> bool:
        """The ordinary verification request, made now, in this transaction. A
        reminder that meets a live code (R2: :meth:`_remind`) waits for its expiry."""
        try:
            sent = await self._verification.request_for_campaign(
                self._requester(campaign), record, uow=uow, now=now, reminder=target.sends > 0
            )
        except AlreadyRequested as live:
            if target.sends > 0:
                lock_ends = max(live.retry_at, now + timedelta(seconds=1))
                await uow.campaigns.set_due(campaign.id, target.pass_no, lock_ends)
                return False
            reason = SkipReason.LIVE_REQUEST
        except PassNotValid:
            reason = SkipReason.NOT_VALID
        except NoPhoneOnFile:
            reason = SkipReason.NO_PHONE
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
        stored only as keyed hashes). The request's own R2 check finds the live code
        (:meth:`_request`), so the requests are read once per target."""
        if reason is SkipReason.VERIFIED:
            await uow.campaigns.set_due(campaign.id, target.pass_no, None)
            return False
        if reason is not None or record is None or record.phone is None:
            await self._skip(uow, campaign, target, reason or SkipReason.PASS_GONE, now)
            return False
        if not await self._request(uow, campaign, target, record, now):
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

    @staticmethod
    async def _audit(
        uow: CampaignUnitOfWork,
        actor: str,
        action: str,
        campaign_id: int,
        now: datetime,
        **detail: str,
    ) -> None:
        await uow.audit.add(audit_entry(actor, action, campaign_id, now, **detail))
