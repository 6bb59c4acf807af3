"""Operator accounts over their life: created, linked to a Telegram user, unlinked,
revoked.

The admin CLI creates accounts and hands out one-time link codes (only their keyed hash
is stored); ``/link CODE`` in a private Telegram chat binds that chat's user to the
account, and from then on the channel asks :meth:`OperatorLifecycle.operator_for` who is
talking. ``/unlink`` and revoking end the binding; a revoked account keeps its row so
the audit log still names someone. What a linked operator may read is
:mod:`core.operators.passes`.

Every action is written to the audit log as ``operator:<id>`` (the CLI as ``cli``) with
masked subjects only (:mod:`core.operators.audit`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from core.codes import SecretHasher
from core.errors import (
    InvalidLinkCode,
    InvalidOperatorDetails,
    OperatorNotFound,
    OperatorRevoked,
    TooManyFailures,
)
from core.model import Channel, Operator
from core.operators.accounts import LinkCode, OperatorAccount, normalise_link_code
from core.operators.audit import CLI_ACTOR, AuditActor, mask_telegram, operator_actor
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory


class LinkCodeSource(Protocol):
    """Where link codes come from (:class:`core.codes.SystemSecrets`); tests pass a
    seeded one."""

    def link_code(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    link_code_ttl: timedelta = timedelta(hours=24)
    #: Wrong ``/link`` codes per Telegram user per hour before a cool-down. 50-bit codes
    #: and five guesses an hour leave nothing to find by guessing.
    link_failures_per_hour: int = 5


class OperatorLifecycle:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        hasher: SecretHasher,
        secrets: LinkCodeSource,
        policy: LinkPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._secrets = secrets
        self._policy = policy or LinkPolicy()

    # --- accounts (the admin CLI) ------------------------------------------------------------

    async def add_operator(
        self, name: str, company: str, is_admin: bool = False, *, actor: str = CLI_ACTOR
    ) -> tuple[OperatorAccount, LinkCode]:
        """A new account and its first link code (shown once: only its hash is kept)."""
        name, company = name.strip(), company.strip()
        if not name or not company:
            raise InvalidOperatorDetails()
        now = self._clock.now()
        async with self._uow() as uow:
            operator_id = await self._new_id(uow)
            link = self._issue(operator_id, now)
            account = OperatorAccount(
                id=operator_id,
                name=name,
                company=company,
                is_admin=is_admin,
                created_at=now,
                link_code_hash=self._hasher.link_code_hash(link.code),
                link_code_expires_at=link.expires_at,
            )
            await uow.operators.add(account)
            await AuditActor(actor, Channel.CLI, now).audit(
                uow, "operator.add", operator_actor(operator_id), admin="yes" if is_admin else "no"
            )
            await uow.commit()
        return account, link

    async def new_link_code(self, operator_id: str, *, actor: str = CLI_ACTOR) -> LinkCode:
        """Reissue: the previous code stops working. The current Telegram binding stays
        until the new code is used (then it moves to whoever used it)."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await self._account(uow, operator_id)
            if account.is_revoked:
                raise OperatorRevoked(operator_id=account.id)
            link = self._issue(account.id, now)
            await uow.operators.set_link_code(
                account.id, self._hasher.link_code_hash(link.code), link.expires_at
            )
            subject = operator_actor(account.id)
            await AuditActor(actor, Channel.CLI, now).audit(uow, "operator.new_code", subject)
            await uow.commit()
        return link

    async def list_operators(self) -> list[OperatorAccount]:
        async with self._uow() as uow:
            return await uow.operators.list()

    async def revoke(self, operator_id: str, *, actor: str = CLI_ACTOR) -> OperatorAccount:
        """Revoked operators can neither link nor act; their Telegram binding and any
        link code are dropped. Revoking twice changes nothing (the first time stands)."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await self._account(uow, operator_id)
            if account.is_revoked:
                return account
            await uow.operators.revoke(account.id, now)
            subject = operator_actor(account.id)
            await AuditActor(actor, Channel.CLI, now).audit(uow, "operator.revoke", subject)
            await uow.commit()
        return replace(
            account,
            revoked_at=now,
            telegram_user_id=None,
            link_code_hash=None,
            link_code_expires_at=None,
        )

    # --- linking a Telegram user ---------------------------------------------------------------

    async def link(self, telegram_user_id: str, code: str) -> Operator:
        """Bind ``telegram_user_id`` to the account the code was issued for; the code is
        spent. Unknown, expired, used and revoked codes are one error (no hint which).

        A user already bound to another account is moved to this one: the code is the
        newer, explicit intent, and refusing would only make them ``/unlink`` first. An
        account already bound to another user moves too (a new phone, a new chat).
        Both moves are in the audit entry.
        """
        now = self._clock.now()
        key = f"link:{telegram_user_id}"
        async with self._uow() as uow:
            await self._check_cool_down(uow, key, now)
            normalised = normalise_link_code(code)
            code_hash = self._hasher.link_code_hash(normalised) if normalised else None
            account = await uow.operators.by_link_code_hash(code_hash) if code_hash else None
            if (
                account is None
                or code_hash is None
                or not account.link_code_open(now)
                or not await uow.operators.spend_link_code(account.id, code_hash)
            ):
                await uow.failures.record(key, now)
                stranger = AuditActor(mask_telegram(telegram_user_id), Channel.TELEGRAM, now)
                await stranger.audit(uow, "operator.link_failed", "link_code")
                await uow.commit()
                raise InvalidLinkCode()
            detail: dict[str, str] = {}
            previous = await uow.operators.by_telegram_user(telegram_user_id)
            if previous is not None and previous.id != account.id:
                await uow.operators.bind_telegram(previous.id, None)
                detail["moved_from"] = operator_actor(previous.id)
            if account.telegram_user_id not in (None, telegram_user_id):
                detail["replaced"] = mask_telegram(account.telegram_user_id or "")
            await uow.operators.bind_telegram(account.id, telegram_user_id)
            actor = operator_actor(account.id)
            detail["telegram"] = mask_telegram(telegram_user_id)
            await AuditActor(actor, Channel.TELEGRAM, now).audit(
                uow, "operator.link", actor, **detail
            )
            await uow.commit()
        return account.operator

    async def unlink(self, telegram_user_id: str) -> Operator | None:
        """Unbind; the operator that was bound, or ``None`` if there was none."""
        now = self._clock.now()
        async with self._uow() as uow:
            account = await uow.operators.by_telegram_user(telegram_user_id)
            if account is None:
                return None
            await uow.operators.bind_telegram(account.id, None)
            actor = operator_actor(account.id)
            await AuditActor(actor, Channel.TELEGRAM, now).audit(
                uow, "operator.unlink", actor, telegram=mask_telegram(telegram_user_id)
            )
            await uow.commit()
        return account.operator

    async def operator_for(self, telegram_user_id: str) -> Operator | None:
        """Who this Telegram user is as an operator; ``None`` when not linked or revoked."""
        async with self._uow() as uow:
            account = await uow.operators.by_telegram_user(telegram_user_id)
        if account is None or account.is_revoked:
            return None
        return account.operator

    # --- helpers --------------------------------------------------------------------------------

    def _issue(self, operator_id: str, now: datetime) -> LinkCode:
        code = self._secrets.link_code()
        if normalise_link_code(code) != code:  # a source that breaks the alphabet
            raise ValueError("the link code source made a code /link would not accept")
        return LinkCode(operator_id, code, now + self._policy.link_code_ttl)

    async def _new_id(self, uow: UnitOfWork) -> str:
        """Eight hex digits: short enough to type after ``portpass operator revoke``."""
        while True:
            candidate = uuid.uuid4().hex[:8]
            if await uow.operators.get(candidate) is None:
                return candidate

    async def _account(self, uow: UnitOfWork, operator_id: str) -> OperatorAccount:
        account = await uow.operators.get(operator_id.strip().lower())
        if account is None:
            raise OperatorNotFound(operator_id=operator_id)
        return account

    async def _check_cool_down(self, uow: UnitOfWork, key: str, now: datetime) -> None:
        limit = self._policy.link_failures_per_hour
        failures = await uow.failures.since(key, now - timedelta(hours=1))
        if len(failures) >= limit:
            raise TooManyFailures(retry_at=failures[-limit] + timedelta(hours=1))
