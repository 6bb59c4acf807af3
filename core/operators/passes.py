"""What an operator may read (R10): their company's passes as a list, one pass, the
counts, and the export.

The channel asks :meth:`core.operators.lifecycle.OperatorLifecycle.operator_for` who is
talking, and passes the answer to the use cases here, which re-check the account in the
same unit of work: a revoked operator loses access at once, not at the next restart.
Requesting a code for a pass (R5, R6) is
:meth:`core.verification.service.VerificationService.request_as_operator`, with
:func:`operator_requester`.

Every read is written to the audit log as ``operator:<id>`` with masked subjects only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from core import messages
from core.errors import NotAnOperator, PassNotFound
from core.masking import mask_pass
from core.model import Channel, Operator, Requester, Status
from core.operators.audit import AuditActor, operator_actor
from core.operators.views import Page, PassRow, PassView, Stats, export_row
from core.ports import Clock, UnitOfWork, UnitOfWorkFactory
from core.values import PassNumber


@dataclass(frozen=True, slots=True)
class OperatorPolicy:
    page_size: int = 10
    max_page_size: int = 50


def operator_requester(
    operator: Operator, channel: Channel = Channel.TELEGRAM, language: str = messages.ZH
) -> Requester:
    """The :class:`Requester` for ``request_as_operator``: audited as the operator."""
    actor = operator_actor(operator.id)
    return Requester(key=actor, channel=channel, actor=actor, language=language)


def _scope(company: str | None) -> str:
    """The audit subject of a read: the company, or ``company:*`` for an admin."""
    return f"company:{company or '*'}"


class OperatorService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, policy: OperatorPolicy | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._policy = policy or OperatorPolicy()

    # --- what an operator reads (R10) ----------------------------------------------------------

    async def list_passes(
        self,
        operator: Operator,
        status: Status | None = None,
        page: int = 0,
        page_size: int | None = None,
        *,
        channel: Channel = Channel.TELEGRAM,
    ) -> Page:
        """Owned passes only (every company for admins), by pass number, a page at a
        time; ID numbers and phones masked. A page past the end shows the last one."""
        size = min(max(1, page_size or self._policy.page_size), self._policy.max_page_size)
        now = self._clock.now()
        async with self._uow() as uow:
            current = await self._active(uow, operator)
            company = None if current.is_admin else current.company
            counts = await uow.passes.count_by_status(company=company)
            total = counts[status] if status is not None else sum(counts.values())
            last = max(0, -(-total // size) - 1)
            number = min(max(0, page), last)
            records = await uow.passes.list(
                company=company, status=status, offset=number * size, limit=size
            )
            opted_out = await uow.opt_outs.among(r.phone for r in records if r.phone)
            await AuditActor(operator_actor(current.id), channel, now).audit(
                uow,
                "operator.list_passes",
                _scope(company),
                status=status.value if status else "all",
                page=str(number),
            )
            await uow.commit()
        rows = tuple(PassRow.of(r, opted_out=r.phone in opted_out) for r in records)
        return Page(rows, number, size, total, status)

    async def get_pass(
        self, operator: Operator, pass_no: PassNumber, *, channel: Channel = Channel.TELEGRAM
    ) -> PassView:
        """An owned pass in full; another company's pass (reachable only by its exact
        number, which is what ``pass_no`` is) masked; an unknown one: PassNotFound."""
        now = self._clock.now()
        async with self._uow() as uow:
            current = await self._active(uow, operator)
            record = await uow.passes.get(pass_no)
            owned = record is not None and current.owns(record)
            phone = record.phone if record is not None else None
            opted_out = phone is not None and await uow.opt_outs.is_opted_out(phone)
            result = "not_found" if record is None else "owned" if owned else "not_owned"
            await AuditActor(operator_actor(current.id), channel, now).audit(
                uow, "operator.view_pass", mask_pass(pass_no), result=result
            )
            problems = await uow.outbox.delivery_problems([pass_no])
            await uow.commit()
        if record is None:
            raise PassNotFound(pass_no=pass_no.value)
        view = PassView.of(record, owned=owned, opted_out=opted_out)
        return replace(view, delivery=problems.get(pass_no))

    async def stats(self, operator: Operator, *, channel: Channel = Channel.TELEGRAM) -> Stats:
        """Passes per status for the operator's company (all for admins), how many
        codes are still waiting to be entered, and how many phones opted out of SMS."""
        now = self._clock.now()
        async with self._uow() as uow:
            current = await self._active(uow, operator)
            company = None if current.is_admin else current.company
            counts = await uow.passes.count_by_status(company=company)
            open_codes = await uow.requests.count_open(now, company=company)
            opted_out = await uow.passes.count_opted_out(company=company)
            await AuditActor(operator_actor(current.id), channel, now).audit(
                uow, "operator.stats", _scope(company)
            )
            await uow.commit()
        return Stats(counts=counts, open_codes=open_codes, opted_out=opted_out)

    async def export_rows(
        self, operator: Operator, *, channel: Channel = Channel.TELEGRAM
    ) -> list[dict[str, str]]:
        """The company's whole status table in full (every company for admins), for
        :func:`core.operators.views.export_csv`."""
        now = self._clock.now()
        async with self._uow() as uow:
            current = await self._active(uow, operator)
            company = None if current.is_admin else current.company
            records = await uow.passes.list(company=company)
            opted_out = await uow.opt_outs.among(r.phone for r in records if r.phone)
            await AuditActor(operator_actor(current.id), channel, now).audit(
                uow, "operator.export", _scope(company), rows=str(len(records))
            )
            await uow.commit()
        return [export_row(r, opted_out=r.phone in opted_out) for r in records]

    # --- helpers ---------------------------------------------------------------------------------

    async def _active(self, uow: UnitOfWork, operator: Operator) -> Operator:
        """The operator as stored now: revoked since the chat asked, no access; company
        or admin changed, the new values apply."""
        account = await uow.operators.get(operator.id)
        if account is None or account.is_revoked:
            raise NotAnOperator()
        return account.operator
