"""Verification requests: :class:`core.ports.RequestRepository` in SQL.

Only keyed hashes of the code and link token are stored
(docs/design.md#secrets-are-hashed-or-sealed); looking a link up is a lookup of its hash
(``token_hash`` is unique).

Reads that precede a change (``get``, ``by_token_hash``, ``for_phone``: a code or a
link is being checked) lock the rows they return with ``FOR UPDATE`` on PostgreSQL,
so two wrong codes typed at once both count against the attempt limit. SQLite needs
no row locks: its units of work hold the database's write lock (``storage.db``). The
wrong codes each participant typed are a small JSON object on the request's own row
(``participants``), so the hot path reads them with the request, in the same statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.model import Channel, Origin, RequestState, VerificationRequest
from core.values import IdNumber, PassNumber, Phone
from storage.tables import passes, verification_requests

_t = verification_requests

# A code check reads a phone's requests and marks one (the hot path): these statements
# are built once, with bind parameters, so SQLAlchemy reuses their cache keys and
# compiled SQL instead of building them again on every call.
_FOR_PHONE = (
    select(_t)
    .where(_t.c.phone == bindparam("phone"), _t.c.created_at >= bindparam("since"))
    .order_by(_t.c.created_at.desc(), _t.c.id.desc())
    .with_for_update()
)
# R2's lock look-up, on every code request. A released request (its SMS never left) and
# a stale one (closed when the registry changed under it) do not hold the lock, and a
# request made exactly ``since`` ago has just expired.
_LATEST_FOR = (
    select(_t)
    .where(
        _t.c.pass_no == bindparam("pass_no"),
        _t.c.id_no == bindparam("id_no"),
        _t.c.phone == bindparam("phone"),
        _t.c.created_at > bindparam("since"),
        _t.c.state.notin_(
            [RequestState.RELEASED.value, RequestState.STALE.value, RequestState.SUPERSEDED.value]
        ),
    )
    .order_by(_t.c.created_at.desc(), _t.c.id.desc())
    .limit(1)
)
_SENT_SINCE = (
    select(_t.c.created_at)
    .where(
        _t.c.pass_no == bindparam("pass_no"),
        _t.c.id_no == bindparam("id_no"),
        _t.c.phone == bindparam("phone"),
        _t.c.created_at > bindparam("since"),
        _t.c.state != RequestState.RELEASED.value,
    )
    .order_by(_t.c.created_at)
)
_ADD = insert(_t)  # the columns are the parameters' names
# SET takes the columns named in the parameters besides ``request_id`` (SQLAlchemy
# compiles, and caches, one UPDATE per set of names).
_UPDATE = update(_t).where(_t.c.id == bindparam("request_id"))


def _request(row: Any) -> VerificationRequest:
    return VerificationRequest(
        id=row.id,
        pass_no=PassNumber(row.pass_no),
        id_no=IdNumber(row.id_no),
        phone=Phone(row.phone),
        code_hash=row.code_hash,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        origin=Origin(row.origin),
        channel=Channel(row.channel),
        language=row.language,
        state=RequestState(row.state),
        failed_attempts=row.failed_attempts,
        update_person_phone=bool(row.update_person_phone),
        operator_id=row.operator_id,
        finished_at=row.finished_at,
        requester_key=row.requester_key,
        phone_on_file=Phone(row.phone_on_file) if row.phone_on_file else None,
        participants=_participants(row.participants),
    )


def _participants(stored: str | None) -> dict[str, int]:
    """The JSON column, ``{}`` for nearly every row (nobody typed a wrong code)."""
    if not stored or stored == "{}":
        return {}
    return {str(key): int(count) for key, count in json.loads(stored).items()}


class SqlRequestRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, request: VerificationRequest) -> None:
        await self._conn.execute(
            _ADD,
            dict(
                id=request.id,
                pass_no=request.pass_no.value,
                id_no=request.id_no.value,
                phone=request.phone.e164,
                code_hash=request.code_hash,
                token_hash=request.token_hash,
                created_at=request.created_at,
                expires_at=request.expires_at,
                origin=request.origin.value,
                channel=request.channel.value,
                language=request.language,
                state=request.state.value,
                failed_attempts=request.failed_attempts,
                update_person_phone=request.update_person_phone,
                operator_id=request.operator_id,
                finished_at=request.finished_at,
                requester_key=request.requester_key,
                phone_on_file=request.phone_on_file.e164 if request.phone_on_file else None,
                participants=json.dumps(dict(request.participants), sort_keys=True),
            ),
        )

    async def get(self, request_id: str) -> VerificationRequest | None:
        query = select(_t).where(_t.c.id == request_id).with_for_update()
        row = (await self._conn.execute(query)).first()
        return _request(row) if row is not None else None

    async def by_token_hash(self, token_hash: str) -> VerificationRequest | None:
        query = select(_t).where(_t.c.token_hash == token_hash).with_for_update()
        row = (await self._conn.execute(query)).first()
        return _request(row) if row is not None else None

    async def latest_for(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> VerificationRequest | None:
        """R2: a released request (its SMS never left) and a stale one do not hold the
        lock, and a request made exactly ``since`` ago has just expired, so it holds none
        either."""
        values = {
            "pass_no": pass_no.value,
            "id_no": id_no.value,
            "phone": phone.e164,
            "since": since,
        }
        row = (await self._conn.execute(_LATEST_FOR, values)).first()
        return _request(row) if row is not None else None

    async def sent_since(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> list[datetime]:
        values = {
            "pass_no": pass_no.value,
            "id_no": id_no.value,
            "phone": phone.e164,
            "since": since,
        }
        return list((await self._conn.execute(_SENT_SINCE, values)).scalars())

    async def for_phone(self, phone: Phone, since: datetime) -> list[VerificationRequest]:
        rows = await self._conn.execute(_FOR_PHONE, {"phone": phone.e164, "since": since})
        return [_request(row) for row in rows]

    async def update(
        self,
        request_id: str,
        *,
        state: RequestState | None = None,
        failed_attempts: int | None = None,
        finished_at: datetime | None = None,
        participants: Mapping[str, int] | None = None,
    ) -> None:
        """Only the fields given change; ``None`` means "leave as is"."""
        values: dict[str, Any] = {"request_id": request_id}
        if state is not None:
            values["state"] = state.value
        if failed_attempts is not None:
            values["failed_attempts"] = failed_attempts
        if finished_at is not None:
            values["finished_at"] = finished_at
        if participants is not None:
            values["participants"] = json.dumps(dict(participants), sort_keys=True)
        if len(values) > 1:
            await self._conn.execute(_UPDATE, values)

    async def count_open(self, now: datetime, *, company: str | None = None) -> int:
        query = (
            select(func.count())
            .select_from(_t)
            .where(_t.c.state == RequestState.LIVE.value, _t.c.expires_at > now)
        )
        if company is not None:
            query = query.join(passes, passes.c.pass_no == _t.c.pass_no).where(
                passes.c.company == company
            )
        return (await self._conn.execute(query)).scalar_one()
