"""The unit of work: one connection, one transaction, every repository on it.

Everything a use case changes (pass, request, outbox row, audit entry) is written
through one :class:`SqlUnitOfWork` and committed together, or not at all: leaving the
``async with`` block without ``commit()`` rolls back, so an exception half-way through
never leaves an SMS queued for a request that does not exist.

A commit that queued SMS calls the factory's outbox listeners (the outbox worker's
``wake``), so a holder's code leaves at once instead of at the worker's next poll.
Listeners run after the commit, never before: a worker woken early would find nothing.
Audit listeners (the metrics) are told, after each commit, the channel and action of
every audit entry it wrote: what really happened, never what was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.audit import SqlAuditRepository, SqlFailureRepository
from storage.campaigns.repository import SqlCampaignRepository
from storage.conversation.inbound import SqlInboundRepository
from storage.conversation.repository import SqlConversationRepository
from storage.inline_sqlite import DRIVER as INLINE_DRIVER
from storage.inline_sqlite import InlineAsyncConnection
from storage.notices.repository import SqlNoticeRepository
from storage.operators.repository import SqlOperatorRepository
from storage.operators.send_questions import SqlQuestionRepository
from storage.opt_outs import SqlOptOutRepository
from storage.outbox.queue import SqlOutboxRepository
from storage.outbox.sealing import BodySealer
from storage.phone_languages import SqlPhoneLanguageRepository
from storage.registry.passes import SqlPassRepository
from storage.requests import SqlRequestRepository

log = logging.getLogger(__name__)

OutboxListener = Callable[[], None]
#: Called with the ``(channel, action)`` of each audit entry a commit wrote.
AuditListener = Callable[[Sequence[tuple[str, str]]], None]


class SqlUnitOfWork:
    """:class:`core.ports.UnitOfWork` on an ``AsyncEngine``.

    The connection is taken from the pool on enter and returned on exit. After
    ``commit()`` the same unit may be used again; the next statement opens a new
    transaction, which exit rolls back unless it too is committed.
    """

    passes: SqlPassRepository
    requests: SqlRequestRepository
    outbox: SqlOutboxRepository
    audit: SqlAuditRepository
    failures: SqlFailureRepository
    conversations: SqlConversationRepository
    inbound: SqlInboundRepository
    operators: SqlOperatorRepository
    opt_outs: SqlOptOutRepository
    phone_languages: SqlPhoneLanguageRepository
    notices: SqlNoticeRepository
    campaigns: SqlCampaignRepository
    questions: SqlQuestionRepository
    audit_listeners: tuple[AuditListener, ...] = ()

    def __init__(
        self,
        engine: AsyncEngine,
        outbox_listeners: tuple[OutboxListener, ...] = (),
        sealer: BodySealer | None = None,
    ) -> None:
        self._engine = engine
        self._outbox_listeners = outbox_listeners
        self._sealer = sealer
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The open connection, for storage-level code that needs plain SQL."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        engine = self._engine
        if engine.dialect.driver == INLINE_DRIVER:
            conn = await InlineAsyncConnection(engine)
        else:
            conn = await engine.connect()
        try:
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.passes = SqlPassRepository(conn)
        self.requests = SqlRequestRepository(conn)
        self.outbox = SqlOutboxRepository(conn, self._sealer)
        self.audit = SqlAuditRepository(conn)
        self.failures = SqlFailureRepository(conn)
        self.conversations = SqlConversationRepository(conn)
        self.operators = SqlOperatorRepository(conn)
        self.opt_outs = SqlOptOutRepository(conn)
        self.inbound = SqlInboundRepository(conn, self.opt_outs)
        self.phone_languages = SqlPhoneLanguageRepository(conn)
        self.notices = SqlNoticeRepository(conn)
        self.campaigns = SqlCampaignRepository(conn)
        self.questions = SqlQuestionRepository(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        await self.connection.commit()
        self.opt_outs.forget()  # the next transaction reads afresh
        queued, self.outbox.added = self.outbox.added, 0
        if queued:
            for listener in self._outbox_listeners:
                try:
                    listener()
                except Exception:  # the commit stands; the worker's poll is the fallback
                    log.exception("outbox listener failed")
        audited, self.audit.added = self.audit.added, []
        if audited:
            for audit_listener in self.audit_listeners:
                try:
                    audit_listener(audited)
                except Exception:  # the commit stands; a metric is lost at worst
                    log.exception("audit listener failed")


class SqlUnitOfWorkFactory:
    """:class:`core.ports.UnitOfWorkFactory`: a fresh unit of work per call.

    ``on_outbox_commit`` (and :meth:`add_outbox_listener`, for a worker started after
    the factory was built) is called, synchronously and in the committing task, after
    each commit that queued SMS; it must only signal, never block. ``sealer`` encrypts
    the codes and link tokens of queued SMS (:mod:`storage.outbox.sealing`); a factory
    without one can queue only SMS that carry no secret.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_outbox_commit: OutboxListener | None = None,
        sealer: BodySealer | None = None,
    ) -> None:
        self.engine = engine
        self.sealer = sealer
        self._outbox_listeners: list[OutboxListener] = []
        self._audit_listeners: list[AuditListener] = []
        if on_outbox_commit is not None:
            self._outbox_listeners.append(on_outbox_commit)

    def add_outbox_listener(self, listener: OutboxListener) -> Callable[[], None]:
        """Register ``listener``; returns a function that removes it again."""
        self._outbox_listeners.append(listener)

        def remove() -> None:
            if listener in self._outbox_listeners:
                self._outbox_listeners.remove(listener)

        return remove

    def add_audit_listener(self, listener: AuditListener) -> None:
        """Call ``listener`` after each commit with the audit entries it wrote."""
        self._audit_listeners.append(listener)

    def __call__(self) -> SqlUnitOfWork:
        unit = SqlUnitOfWork(self.engine, tuple(self._outbox_listeners), self.sealer)
        unit.audit_listeners = tuple(self._audit_listeners)
        return unit
