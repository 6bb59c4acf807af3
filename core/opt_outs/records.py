"""Recording an opt-out or an opt-in, with its audit entry (the phone masked).

Apart from :mod:`core.opt_outs.model` because it works through the ports (:mod:`core.ports`),
which name :class:`core.opt_outs.model.OptOut` themselves. Used by the conversation (opt-out
and opt-in words) and by the outbox (the provider's opt-out error), each in its own
transaction.
"""

from __future__ import annotations

from datetime import datetime

from core.masking import mask_phone
from core.model import AuditEntry, Channel
from core.opt_outs.model import OptOut
from core.ports import AuditRepository, OptOutRepository
from core.values import Phone


async def record_opt_out(
    opt_outs: OptOutRepository,
    audit: AuditRepository,
    opt_out: OptOut,
    *,
    actor: str,
    channel: Channel = Channel.SMS,
) -> bool:
    """Record ``opt_out`` and audit it (the phone masked); ``False`` when the phone had
    opted out already, which changes and audits nothing."""
    added = await opt_outs.add(opt_out)
    if added:
        entry = AuditEntry(
            at=opt_out.opted_out_at,
            actor=actor,
            channel=channel,
            action="sms.opt_out",
            subject=mask_phone(opt_out.phone),
            detail={"source": opt_out.source.value, "reason": opt_out.reason},
        )
        await audit.add(entry)
    return added


async def record_opt_in(
    opt_outs: OptOutRepository,
    audit: AuditRepository,
    phone: Phone,
    at: datetime,
    word: str,
    *,
    actor: str,
    channel: Channel = Channel.SMS,
) -> bool:
    """Lift the phone's opt-out and audit it; ``False`` when it had none."""
    removed = await opt_outs.remove(phone)
    if removed:
        entry = AuditEntry(
            at=at,
            actor=actor,
            channel=channel,
            action="sms.opt_in",
            subject=mask_phone(phone),
            detail={"reason": word},
        )
        await audit.add(entry)
    return removed
