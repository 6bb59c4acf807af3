"""The outbox and phones that opted out of SMS, inside the outbox queue's transactions.

A row comes due for a phone that opted out after it was queued: it is ``skipped``
(error ``opted out``) instead of claimed, and a verification request it carried is
released, since its code never left (R2 must not lock the holder out). A provider that
refuses a message, or reports it failed, with its opt-out error (Twilio's 21610: the
recipient texted STOP while we were not listening) records the opt-out, so nothing
more is queued or sent to that phone until it opts back in.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import RequestState
from core.opt_outs.model import PROVIDER_OPT_OUT_ERRORS, OptOut, OptOutSource
from core.opt_outs.records import record_opt_out
from core.values import Phone
from storage.audit import SqlAuditRepository
from storage.opt_outs import SqlOptOutRepository, is_opted_out
from storage.tables import outbox, verification_requests

log = logging.getLogger(__name__)

#: ``error_message`` of a row never sent because its recipient opted out of SMS.
OPTED_OUT = "opted out"
#: Who the audit log says recorded an opt-out the provider reported.
PROVIDER_ACTOR = "provider"


def opted_out_column() -> ColumnElement[Any]:
    """For the claim's SELECT: whether the row's recipient has opted out."""
    return is_opted_out(outbox.c.to_phone).label("opted_out")


async def skip_opted_out(conn: AsyncConnection, ids: list[int], now: datetime) -> None:
    if not ids:
        return
    skipped = await conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids))
        .values(
            state="skipped",
            lease_until=None,
            error_code=None,
            error_message=OPTED_OUT,
            sealed=None,  # never sent: nothing decryptable is kept (storage.outbox.sealing)
            updated_at=now,
        )
        .returning(outbox.c.id, outbox.c.request_id)
    )
    rows = list(skipped)
    await release(conn, [row.request_id for row in rows if row.request_id], now)
    for row in rows:
        log.info("outbox %d: skipped, the recipient opted out of SMS", row.id)


async def release(conn: AsyncConnection, request_ids: list[str], now: datetime) -> None:
    """Free the R2 lock of live requests whose code never reached the provider."""
    if not request_ids:
        return
    await conn.execute(
        update(verification_requests)
        .where(
            verification_requests.c.id.in_(request_ids),
            verification_requests.c.state == RequestState.LIVE.value,
        )
        .values(state=RequestState.RELEASED.value, finished_at=now)
    )


async def record_if_opted_out(
    conn: AsyncConnection, phone: Phone, error_code: str | None, now: datetime
) -> None:
    """Record an opt-out when ``error_code`` is the provider's opt-out error."""
    if error_code not in PROVIDER_OPT_OUT_ERRORS:
        return
    opt_out = OptOut(phone, now, OptOutSource.PROVIDER, error_code)
    if await record_opt_out(
        SqlOptOutRepository(conn), SqlAuditRepository(conn), opt_out, actor=PROVIDER_ACTOR
    ):
        log.info("the provider reports that a recipient opted out of SMS (%s)", error_code)
