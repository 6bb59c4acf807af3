"""Hand-written fakes of core's ports: an in-memory unit of work (the clock is in
fakes/clock.py, shared with the end-to-end tests).

The fake unit of work works on a copy of the store and writes it back only on commit,
so unit tests see the same all-or-nothing behaviour the SQL unit of work gives.

Why one module: it fakes every port of :mod:`core.ports` over one in-memory store,
which the repositories must share for the unit of work's all-or-nothing copy.
"""

from __future__ import annotations

import builtins
import copy
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Self

from core.conversation.state import Conversation
from core.model import (
    AuditEntry,
    OutgoingSms,
    PassRecord,
    RequestState,
    Status,
    VerificationRequest,
)
from core.operators.accounts import OperatorAccount
from core.opt_outs.model import OptOut
from core.status import status_of
from core.values import IdNumber, PassNumber, Phone
from core.verification.delivery import DeliveryProblem


@dataclass
class Person:
    name: str
    phone: Phone | None


@dataclass
class Store:
    persons: dict[IdNumber, Person] = field(default_factory=dict)
    passes: dict[PassNumber, PassRecord] = field(default_factory=dict)
    requests: dict[str, VerificationRequest] = field(default_factory=dict)
    outbox: list[tuple[OutgoingSms, datetime]] = field(default_factory=list)
    outbox_priorities: list[int] = field(default_factory=list)  # one per outbox entry
    delivery_problems: dict[PassNumber, DeliveryProblem] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    failures: list[tuple[str, datetime]] = field(default_factory=list)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    inbound: dict[tuple[str, str], str | None] = field(default_factory=dict)
    operators: dict[str, OperatorAccount] = field(default_factory=dict)
    opt_outs: dict[Phone, OptOut] = field(default_factory=dict)
    phone_languages: dict[Phone, str] = field(default_factory=dict)
    commits: int = 0

    def add_pass(
        self,
        pass_no: str,
        id_no: str,
        name: str,
        phone: str | None,
        *,
        company: str = "高雄港測試業者",
        verified_phone: str | None = None,
        valid_from: date = date(2026, 1, 5),
        valid_to: date = date(2027, 1, 4),
    ) -> PassRecord:
        pid = IdNumber.parse(id_no, trust_check_digit=False)
        self.persons[pid] = Person(name, Phone.parse(phone) if phone else None)
        record = PassRecord(
            pass_no=PassNumber.parse(pass_no),
            id_no=pid,
            company=company,
            valid_from=valid_from,
            valid_to=valid_to,
            name=None,
            phone=None,
            verified_phone=Phone.parse(verified_phone) if verified_phone else None,
        )
        self.passes[record.pass_no] = record
        return self.record(record.pass_no)

    def record(self, pass_no: PassNumber) -> PassRecord:
        """The pass joined with its person, as storage's LEFT JOIN gives it."""
        base = self.passes[pass_no]
        person = self.persons.get(base.id_no)
        return dataclasses.replace(
            base,
            name=person.name if person else None,
            phone=person.phone if person else None,
        )

    def sms_to(self, phone: str) -> list[str]:
        target = Phone.parse(phone)
        return [sms.body for sms, _ in self.outbox if sms.to == target]


class FakePasses:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def get(self, pass_no: PassNumber, *, lock: bool = False) -> PassRecord | None:
        return self._s.record(pass_no) if pass_no in self._s.passes else None

    async def list(
        self,
        *,
        company: str | None = None,
        status: Status | None = None,
        pass_nos: Sequence[PassNumber] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[PassRecord]:
        rows = [self._s.record(p) for p in sorted(self._s.passes)]
        rows = [
            r
            for r in rows
            if (company is None or r.company == company)
            and (status is None or status_of(r) is status)
            and (pass_nos is None or r.pass_no in pass_nos)
        ]
        end = None if limit is None else offset + limit
        return rows[offset:end]

    async def count_by_status(self, *, company: str | None = None) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for record in await self.list(company=company):
            counts[status_of(record)] += 1
        return counts

    async def count_opted_out(self, *, company: str | None = None) -> int:
        return sum(1 for r in await self.list(company=company) if r.phone in self._s.opt_outs)

    async def with_phone(self, phone: Phone) -> builtins.list[PassRecord]:
        return [r for r in await self.list() if r.phone == phone]

    async def set_verified_phone(self, pass_no: PassNumber, phone: Phone, at: datetime) -> None:
        self._s.passes[pass_no] = dataclasses.replace(
            self._s.passes[pass_no], verified_phone=phone, verified_at=at
        )

    async def set_person_phone(self, id_no: IdNumber, phone: Phone, at: datetime) -> None:
        if id_no in self._s.persons:
            self._s.persons[id_no].phone = phone


class FakeRequests:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def add(self, request: VerificationRequest) -> None:
        self._s.requests[request.id] = request

    async def get(self, request_id: str) -> VerificationRequest | None:
        return self._s.requests.get(request_id)

    async def by_token_hash(self, token_hash: str) -> VerificationRequest | None:
        return next((r for r in self._s.requests.values() if r.token_hash == token_hash), None)

    async def latest_for(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> VerificationRequest | None:
        matches = [
            r
            for r in self._s.requests.values()
            if (r.pass_no, r.id_no, r.phone) == (pass_no, id_no, phone)
            and r.created_at > since
            and r.state not in (RequestState.RELEASED, RequestState.STALE, RequestState.SUPERSEDED)
        ]
        return max(matches, key=lambda r: r.created_at, default=None)

    async def sent_since(
        self, pass_no: PassNumber, id_no: IdNumber, phone: Phone, since: datetime
    ) -> list[datetime]:
        return sorted(
            r.created_at
            for r in self._s.requests.values()
            if (r.pass_no, r.id_no, r.phone) == (pass_no, id_no, phone)
            and r.created_at > since
            and r.state is not RequestState.RELEASED
        )

    async def for_phone(self, phone: Phone, since: datetime) -> list[VerificationRequest]:
        matches = [
            r for r in self._s.requests.values() if r.phone == phone and r.created_at >= since
        ]
        return sorted(matches, key=lambda r: r.created_at, reverse=True)

    async def update(
        self,
        request_id: str,
        *,
        state: RequestState | None = None,
        failed_attempts: int | None = None,
        finished_at: datetime | None = None,
        participants: Mapping[str, int] | None = None,
    ) -> None:
        current = self._s.requests[request_id]
        self._s.requests[request_id] = dataclasses.replace(
            current,
            state=state if state is not None else current.state,
            failed_attempts=(
                failed_attempts if failed_attempts is not None else current.failed_attempts
            ),
            finished_at=finished_at if finished_at is not None else current.finished_at,
            participants=dict(participants) if participants is not None else current.participants,
        )

    async def count_open(self, now: datetime, *, company: str | None = None) -> int:
        return sum(
            1
            for r in self._s.requests.values()
            if r.is_open(now) and (company is None or self._s.passes[r.pass_no].company == company)
        )


class FakeOutbox:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def add(self, sms: OutgoingSms, at: datetime, *, priority: int = 0) -> int:
        self._s.outbox.append((sms, at))
        self._s.outbox_priorities.append(priority)
        return len(self._s.outbox)

    async def add_many(
        self, messages: Sequence[OutgoingSms], at: datetime, *, priority: int = 0
    ) -> list[int]:
        return [await self.add(sms, at, priority=priority) for sms in messages]

    async def delivery_problems(
        self, pass_nos: Sequence[PassNumber] | None = None
    ) -> dict[PassNumber, DeliveryProblem]:
        """Set ``Store.delivery_problems`` to what the outbox should report."""
        wanted = set(pass_nos) if pass_nos is not None else None
        return {
            p: problem
            for p, problem in self._s.delivery_problems.items()
            if wanted is None or p in wanted
        }


class FakeAudit:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def add(self, entry: AuditEntry) -> None:
        self._s.audit.append(entry)

    async def add_many(self, entries: Sequence[AuditEntry]) -> None:
        self._s.audit.extend(entries)


class FakeFailures:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def record(self, key: str, at: datetime) -> None:
        self._s.failures.append((key, at))

    async def since(self, key: str, since: datetime) -> list[datetime]:
        return sorted(at for k, at in self._s.failures if k == key and at >= since)


class FakeConversations:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def get(self, key: str) -> Conversation | None:
        return self._s.conversations.get(key)

    async def save(self, key: str, conversation: Conversation) -> None:
        self._s.conversations[key] = conversation


class FakeOperators:
    """Keeps the table's unique constraints, so core cannot rely on what SQL refuses."""

    def __init__(self, store: Store) -> None:
        self._s = store

    def _put(self, account: OperatorAccount) -> None:
        for other in self._s.operators.values():
            if other.id == account.id:
                continue
            if account.telegram_user_id and other.telegram_user_id == account.telegram_user_id:
                raise ValueError("unique constraint: operators.telegram_user_id")
            if account.link_code_hash and other.link_code_hash == account.link_code_hash:
                raise ValueError("unique constraint: operators.link_code_hash")
        self._s.operators[account.id] = account

    async def add(self, account: OperatorAccount) -> None:
        if account.id in self._s.operators:
            raise ValueError("unique constraint: operators.id")
        self._put(account)

    async def get(self, operator_id: str) -> OperatorAccount | None:
        return self._s.operators.get(operator_id)

    async def list(self) -> list[OperatorAccount]:
        return sorted(self._s.operators.values(), key=lambda a: (a.created_at, a.id))

    async def by_telegram_user(self, telegram_user_id: str) -> OperatorAccount | None:
        return next(
            (a for a in self._s.operators.values() if a.telegram_user_id == telegram_user_id),
            None,
        )

    async def by_link_code_hash(self, code_hash: str) -> OperatorAccount | None:
        return next((a for a in self._s.operators.values() if a.link_code_hash == code_hash), None)

    async def set_link_code(
        self, operator_id: str, code_hash: str | None, expires_at: datetime | None
    ) -> None:
        current = self._s.operators[operator_id]
        self._put(
            dataclasses.replace(current, link_code_hash=code_hash, link_code_expires_at=expires_at)
        )

    async def spend_link_code(self, operator_id: str, code_hash: str) -> bool:
        current = self._s.operators.get(operator_id)
        if current is None or current.link_code_hash != code_hash:
            return False
        await self.set_link_code(operator_id, None, None)
        return True

    async def bind_telegram(self, operator_id: str, telegram_user_id: str | None) -> None:
        current = self._s.operators[operator_id]
        self._put(dataclasses.replace(current, telegram_user_id=telegram_user_id))

    async def revoke(self, operator_id: str, at: datetime) -> None:
        current = self._s.operators[operator_id]
        self._put(
            dataclasses.replace(
                current,
                revoked_at=at,
                telegram_user_id=None,
                link_code_hash=None,
                link_code_expires_at=None,
            )
        )


class FakeInbound:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def claim(self, channel: str, message_id: str, at: datetime) -> bool:
        if (channel, message_id) in self._s.inbound:
            return False
        self._s.inbound[channel, message_id] = None
        return True

    async def reply_for(self, channel: str, message_id: str) -> str | None:
        return self._s.inbound.get((channel, message_id))

    async def remember(self, channel: str, message_id: str, reply: str) -> None:
        self._s.inbound[channel, message_id] = reply

    async def claim_turn(
        self, channel: str, message_id: str, at: datetime, key: str, phone: Phone | None = None
    ) -> tuple[bool, Conversation | None]:
        if not await self.claim(channel, message_id, at):
            return False, None
        return True, self._s.conversations.get(key)


class FakeOptOuts:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def get(self, phone: Phone) -> OptOut | None:
        return self._s.opt_outs.get(phone)

    async def is_opted_out(self, phone: Phone) -> bool:
        return phone in self._s.opt_outs

    async def among(self, phones: Iterable[Phone]) -> set[Phone]:
        return {phone for phone in phones if phone in self._s.opt_outs}

    async def add(self, opt_out: OptOut) -> bool:
        if opt_out.phone in self._s.opt_outs:
            return False
        self._s.opt_outs[opt_out.phone] = opt_out
        return True

    async def remove(self, phone: Phone) -> bool:
        return self._s.opt_outs.pop(phone, None) is not None


class FakePhoneLanguages:
    def __init__(self, store: Store) -> None:
        self._s = store

    async def get(self, phone: Phone) -> str | None:
        return self._s.phone_languages.get(phone)

    async def among(self, phones: Iterable[Phone]) -> dict[Phone, str]:
        return {p: self._s.phone_languages[p] for p in phones if p in self._s.phone_languages}

    async def remember(self, phone: Phone, language: str, at: datetime) -> None:
        self._s.phone_languages[phone] = language


class FakeUnitOfWork:
    def __init__(self, committed: Store) -> None:
        self._committed = committed

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._committed)
        self.passes = FakePasses(self._work)
        self.requests = FakeRequests(self._work)
        self.outbox = FakeOutbox(self._work)
        self.audit = FakeAudit(self._work)
        self.failures = FakeFailures(self._work)
        self.conversations = FakeConversations(self._work)
        self.inbound = FakeInbound(self._work)
        self.operators = FakeOperators(self._work)
        self.opt_outs = FakeOptOuts(self._work)
        self.phone_languages = FakePhoneLanguages(self._work)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        del self._work

    async def commit(self) -> None:
        self._work.commits += 1
        for name in [f.name for f in dataclasses.fields(Store)]:
            setattr(self._committed, name, copy.deepcopy(getattr(self._work, name)))


class FakeUnitOfWorkFactory:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)
