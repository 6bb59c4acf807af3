"""The SMS outbox: written in the same transaction as the change that caused it.

A row is the promise that an SMS will be sent. :class:`SqlOutboxRepository` only
queues it, inside a use case's unit of work. :class:`OutboxQueue` is the worker's side
(``bot/sms/outbox_worker.py``): it claims due rows under a lease and records what the
provider said, each step in its own short transaction on the engine.

Claims are what keep two workers from sending one row. On PostgreSQL the due rows are
read with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers each get different rows
without waiting on each other; on SQLite every transaction starts with ``BEGIN
IMMEDIATE`` (:mod:`storage.db`), so claims simply take turns. A claim stamps the row
with a token unique to that claim (:mod:`storage.leases`, shared with the Telegram notice
queue); every later mark checks it, so a worker whose lease
expired (and whose row another worker took over) cannot overwrite the newer result.

Codes and link tokens never reach the database in clear (:mod:`storage.outbox.sealing`):
``body`` holds a redacted copy and ``sealed`` the encrypted original, which only the
worker opens (:meth:`OutboxQueue.readable_body`) and which is cleared once the
provider has accepted the message or it has failed.

Why one module: both sides work on the same row, its states and the order they move
in; the repository writes rows the queue must be able to claim (sealed so that only
the queue can open them), and the queue's marks decide what a queued row becomes.
Apart, two modules would have to agree on all of it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.model import OutgoingSms, Priority
from core.values import PassNumber, Phone
from core.verification.delivery import DeliveryProblem
from storage import leases
from storage.outbox.failures import delivery_problems
from storage.outbox.opt_outs import opted_out_column, record_if_opted_out, release, skip_opted_out
from storage.outbox.sealing import MASK, BodySealer, SealBroken, redact
from storage.tables import outbox

log = logging.getLogger(__name__)

#: Twilio's message statuses in the order a message moves through them. A callback
#: never moves a row backwards: Twilio does not promise to deliver them in order.
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
_STATE_FOR_STATUS = {
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
KNOWN_STATUSES = frozenset(_STATUS_RANK)
#: Statuses that say the handset will never get the message.
NOT_DELIVERED = frozenset(s for s, state in _STATE_FOR_STATUS.items() if state != "delivered")


class UnreadableSms(Exception):
    """A queued body that cannot be opened (no key configured, or not the key it was
    sealed with): it can never be sent as written."""


@dataclass(frozen=True, slots=True)
class QueuedSms:
    """An outbox row as the worker sees it: the SMS (its body redacted when it carries
    secrets), the sealed original, and its delivery bookkeeping."""

    id: int
    sms: OutgoingSms
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    priority: int = Priority.OWN
    sealed: bytes | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A row held by one worker until ``lease_until``; ``token`` proves it when marking."""

    row: QueuedSms
    token: str
    lease_until: datetime


# Every code request queues its SMS through this INSERT (built once: SQLAlchemy
# reuses its cache key and compiled SQL); the columns are the parameters' names. It
# returns the new id: a notice keeps it to show what became of its SMS.
_ADD = insert(outbox).returning(outbox.c.id)
_ADD_MANY = insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True)


def _queued(row: Any) -> QueuedSms:
    sms = OutgoingSms(
        to=Phone(row.to_phone),
        body=row.body,
        request_id=row.request_id,
        kind=row.kind,
        expires_at=row.expires_at,
        notify_to=row.notify_to,
    )
    return QueuedSms(
        id=row.id,
        sms=sms,
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        priority=row.priority,
        sealed=row.sealed,
    )


def _context(to_phone: str, request_id: str | None, kind: str, body: str) -> bytes:
    """What a sealed body is bound to (AES-GCM associated data): its row's recipient,
    request, kind and redacted text."""
    return "\x1f".join(("outbox/v1", to_phone, request_id or "", kind, body)).encode()


# Verification bodies written before bodies were sealed (revision 0004) still hold
# their code and link token in clear; these find them when the row is finished.
_LEGACY_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
_LEGACY_TOKEN = re.compile(r"(/v/)[A-Za-z0-9_-]+")


def mask_sid(sid: str) -> str:
    """``SM…1a2b`` for logs and notes: enough to find the message in the provider's
    console, not a handle on it."""
    return f"{sid[:2]}…{sid[-4:]}" if len(sid) > 8 else "…"


def redact_legacy(body: str) -> str:
    """A pre-0004 verification body with its 6-digit code and link token masked."""
    body = _LEGACY_TOKEN.sub(lambda m: m.group(1) + MASK * (len(m.group(0)) - 3), body)
    return _LEGACY_CODE.sub(MASK * 6, body)


class SqlOutboxRepository:
    """:class:`core.ports.OutboxRepository`; counts what it queued so the unit of work
    can wake the worker after the commit. An SMS that carries secrets needs a
    ``sealer`` (the services always pass one); without it, adding one fails rather
    than store a code in clear."""

    def __init__(self, conn: AsyncConnection, sealer: BodySealer | None = None) -> None:
        self._conn = conn
        self._sealer = sealer
        self.added = 0

    async def add(self, sms: OutgoingSms, at: datetime, *, priority: int = Priority.OWN) -> int:
        """Queue ``sms``: 0 a holder's own request or reply, 1 notices, 2 campaign
        traffic (:class:`core.model.Priority`); lower values are claimed first. Returns
        the new row's id."""
        result = await self._conn.execute(_ADD, self._row(sms, at, priority))
        self.added += 1
        return int(result.scalar_one())

    async def add_many(
        self, messages: Sequence[OutgoingSms], at: datetime, *, priority: int = Priority.OWN
    ) -> list[int]:
        """Several rows in one statement (SQLAlchemy's "insertmanyvalues"); ids in order."""
        if not messages:
            return []
        rows = [self._row(sms, at, priority) for sms in messages]
        result = await self._conn.execute(_ADD_MANY, rows)
        self.added += len(messages)
        return [int(row.id) for row in result]

    def _row(self, sms: OutgoingSms, at: datetime, priority: int) -> dict[str, Any]:
        """The row's values; an SMS with secrets is stored redacted, and sealed."""
        if priority < 0:
            raise ValueError(f"priority must be 0 or more: {priority!r}")
        body, sealed = sms.body, None
        if sms.secrets:
            if self._sealer is None:
                raise UnreadableSms("an SMS carrying a code needs the outbox's sealing key")
            body = redact(sms.body, sms.secrets)
            sealed = self._sealer.seal(
                sms.body, _context(sms.to.e164, sms.request_id, sms.kind, body)
            )
        return dict(
            priority=int(priority),
            kind=sms.kind,
            to_phone=sms.to.e164,
            body=body,
            sealed=sealed,
            request_id=sms.request_id,
            expires_at=sms.expires_at,
            notify_to=sms.notify_to,
            created_at=at,
            state="pending",
            attempts=0,
            next_attempt_at=at,
            updated_at=at,
        )

    async def delivery_problems(
        self, pass_nos: Sequence[PassNumber] | None = None
    ) -> dict[PassNumber, DeliveryProblem]:
        """Passes whose latest verification SMS did not arrive (:mod:`storage.outbox.failures`)."""
        return await delivery_problems(self._conn, pass_nos)

    async def pending(self, limit: int = 100) -> list[QueuedSms]:
        """Rows still waiting to be sent, oldest due first (no claiming)."""
        query = (
            select(outbox)
            .where(outbox.c.state == "pending")
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        return [_queued(row) for row in await self._conn.execute(query)]


def _forget(row: QueuedSms) -> dict[str, Any]:
    """What a finished row keeps of its secrets: nothing. The sealed body goes, and a
    verification body queued before bodies were sealed gets redacted now."""
    values: dict[str, Any] = {"sealed": None}
    if row.sealed is None and row.sms.kind == "verification":
        values["body"] = redact_legacy(row.sms.body)
    return values


class OutboxQueue:
    """The worker's view of the outbox on an ``AsyncEngine``.

    Every ``mark_*`` method returns ``False`` (and changes nothing) when the claim is no
    longer the row's current one: its lease expired and another claim took the row.
    """

    def __init__(self, engine: AsyncEngine, sealer: BodySealer | None = None) -> None:
        self._engine = engine
        self._sealer = sealer

    def readable_body(self, row: QueuedSms) -> str:
        """The text to hand the provider: the sealed original opened, or the stored
        body when nothing was sealed. :class:`UnreadableSms` when it cannot be opened."""
        if row.sealed is None:
            return row.sms.body
        if self._sealer is None:
            raise UnreadableSms("the outbox worker has no sealing key")
        sms = row.sms
        context = _context(sms.to.e164, sms.request_id, sms.kind, sms.body)
        try:
            return self._sealer.open(row.sealed, context)
        except SealBroken as error:
            raise UnreadableSms(str(error)) from None

    async def claim(
        self, worker_id: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Claim]:
        """Up to ``limit`` due rows, now ``sending`` and leased to us: lowest
        ``priority`` first (a holder waiting for a code goes before a campaign's
        thousands), then oldest due first.

        Due: ``pending``, or ``sending`` under a lease that has expired (its worker
        died or hung); either way ``next_attempt_at <= now``. Taking over an expired
        lease counts the lost attempt, so a message that crashes its worker every time
        still runs out of attempts instead of looping for ever. A row to a phone that
        opted out is skipped instead (:mod:`storage.outbox.opt_outs`).
        """
        if limit < 1:
            return []
        token = leases.claim_token(worker_id)
        lease_until = now + lease
        c = outbox.c
        query = leases.due(
            outbox,
            now,
            limit,
            order_by=(c.priority, c.next_attempt_at, c.id),
            extra=(opted_out_column(),),
        )
        async with self._engine.begin() as conn:
            found = list(await conn.execute(query))
            await skip_opted_out(conn, [row.id for row in found if row.opted_out], now)
            ids = [row.id for row in found if not row.opted_out]
            if not ids:
                return []
            taken = await leases.take(conn, outbox, ids, token, now, lease_until)
            rows = sorted(taken, key=lambda row: (row.priority, row.next_attempt_at, row.id))
        return [Claim(_queued(row), token, lease_until) for row in rows]

    async def mark_sent(self, claim: Claim, provider_sid: str, status: str, now: datetime) -> bool:
        """The provider took the message; its status callbacks will find it by sid.
        Nothing decryptable stays: the sealed body is dropped.

        A sid that another row already holds (the provider answered with one it gave
        before) cannot be stored twice (``provider_sid`` is unique). The message was
        accepted all the same, so the row is recorded ``sent`` without the sid, and a
        warning names both rows; failing here would leave the row ``sending`` and send
        it again once its lease expired."""
        values: dict[str, Any] = dict(
            state="sent",
            attempts=outbox.c.attempts + 1,
            provider_sid=provider_sid,
            provider_status=status,
            error_code=None,
            error_message=None,
            **_forget(claim.row),
        )
        try:
            return await self._finish(claim, now, **values)
        except IntegrityError:
            holder = await self._holder_of(provider_sid)
            if holder is None or holder == claim.row.id:
                raise  # not the sid after all: let the caller see the real error
        shown = mask_sid(provider_sid)
        values["provider_sid"] = None
        values["error_message"] = f"provider sid {shown} already recorded for outbox {holder}"
        done = await self._finish(claim, now, **values)
        log.warning(
            "outbox %d: the provider answered with sid %s, already recorded for outbox %d; "
            "recorded as sent without it (its status callbacks go to outbox %d)",
            claim.row.id,
            shown,
            holder,
            holder,
        )
        return done

    async def _holder_of(self, provider_sid: str) -> int | None:
        query = select(outbox.c.id).where(outbox.c.provider_sid == provider_sid)
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def retry_later(self, claim: Claim, at: datetime, error: str, now: datetime) -> bool:
        """A transient failure: back to ``pending``, due again at ``at``."""
        return await self._finish(
            claim,
            now,
            state="pending",
            attempts=outbox.c.attempts + 1,
            next_attempt_at=at,
            error_message=error,
        )

    async def put_back(self, claim: Claim, now: datetime) -> bool:
        """Return the row untried (shutting down, or our own credentials are wrong):
        due at once, and not counted as an attempt against the recipient."""
        return await self._finish(claim, now, state="pending")

    async def fail(self, claim: Claim, code: str | None, message: str, now: datetime) -> bool:
        """The message will never be sent. A verification SMS's request is released in
        the same transaction: the holder never got the code, so the R2 lock must not
        keep them from asking again (``RequestRepository.latest_for`` skips RELEASED).
        The provider's opt-out error (Twilio's 21610) records the opt-out with it. A
        row with ``notify_to`` now waits for :class:`storage.outbox.failures.
        FailureNotices` to tell the chat that asked."""
        async with self._engine.begin() as conn:
            done = await self._finish_on(
                conn,
                claim,
                now,
                state="failed",
                attempts=outbox.c.attempts + 1,
                error_code=code,
                error_message=message,
                **_forget(claim.row),
            )
            request_id = claim.row.sms.request_id
            if done:
                await release(conn, [request_id] if request_id else [], now)
                await record_if_opted_out(conn, claim.row.sms.to, code, now)
        return done

    async def _finish(self, claim: Claim, now: datetime, **values: Any) -> bool:
        async with self._engine.begin() as conn:
            return await self._finish_on(conn, claim, now, **values)

    @staticmethod
    async def _finish_on(conn: AsyncConnection, claim: Claim, now: datetime, **values: Any) -> bool:
        return await leases.finish(conn, outbox, claim.row.id, claim.token, now, **values)

    async def record_status(
        self, provider_sid: str, status: str, error_code: str | None, now: datetime
    ) -> bool:
        """A status callback. ``False`` when no row has that sid. A status older than
        the one recorded (``sent`` arriving after ``delivered``) changes nothing. An
        opt-out error (a messaging service may report 21610 here) records the opt-out.

        ``undelivered`` or ``failed``: the holder never got the code,
        so its request is released in the same transaction, which frees the R2 lock
        (they may ask again at once), and a chat to tell keeps its ``notify_to``.
        ``delivered``: nobody needs telling any more."""
        rank = _STATUS_RANK.get(status)
        async with self._engine.begin() as conn:
            query = (
                select(
                    outbox.c.id, outbox.c.provider_status, outbox.c.to_phone, outbox.c.request_id
                )
                .where(outbox.c.provider_sid == provider_sid)
                .with_for_update()
            )
            row = (await conn.execute(query)).first()
            if row is None:
                return False
            await record_if_opted_out(conn, Phone(row.to_phone), error_code, now)
            current = _STATUS_RANK.get(row.provider_status or "", -1)
            if rank is None or rank < current:
                return True
            state = _STATE_FOR_STATUS.get(status, "sent")
            values: dict[str, Any] = {
                "provider_status": status,
                "state": state,
                "updated_at": now,
            }
            if error_code is not None:
                values["error_code"] = error_code
            if state == "delivered":
                values["notify_to"] = None
            await conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
            if state in ("undelivered", "failed"):
                await release(conn, [row.request_id] if row.request_id else [], now)
        return True

    async def next_due(self) -> datetime | None:
        """When the earliest pending row comes due (a retry's backoff), for sleeping."""
        query = select(func.min(outbox.c.next_attempt_at)).where(outbox.c.state == "pending")
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]
