"""What one campaign target costs the database, on SQLite and PostgreSQL: each thing is
read once, and the transaction has one time.

A target is dispatched at up to hundreds a second, so a statement read twice is paid
that often (the SMS turn's counts are in tests/e2e/test_transactions_per_turn.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.campaigns.model import CampaignSpec
from fakes.clock import FakeClock, TickingClock
from storage.tables import audit_log, campaign_targets, outbox, verification_requests
from tests.integration.campaign_builders import add_holder, harness
from tests.integration.test_campaign_dispatch import ALWAYS, T0, start


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements run on ``engine`` meanwhile, by their first words."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:4]))

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def test_a_campaign_target_is_ten_statements(engine: AsyncEngine, clock: FakeClock) -> None:
    """The campaign locked, with the outbox's backlog counted in the same statement; the
    due target claimed; its pass locked; the phone's opt-out; R2's earlier request; the
    request, its SMS and its audit entry; the target marked sent; the campaign's pacing.
    Twelve before: the opt-out was read again by the request (may a code go to this
    phone), and the backlog was a statement of its own."""
    h = harness(engine, clock)
    await add_holder(h.engine, 1)
    campaign_id = await start(h, CampaignSpec("one", rate=1000))

    with statements(engine) as seen:
        assert (await h.campaigns.dispatch(campaign_id)).sent == 1

    reads = [s.split()[-1] for s in seen if s.startswith("SELECT")]
    assert len(seen) == 11, seen  # the phone's language: one SELECT (docs/channels.md)
    assert sum("sms_opt_outs" in s for s in seen) == 1, reads


async def test_a_reminder_reads_the_requests_once(engine: AsyncEngine, clock: FakeClock) -> None:
    """The reminder's R2 check is the request's own: the requests are read once (they
    were read twice when no code was live, by the reminder and again by the request)."""
    h = harness(engine, clock)
    await add_holder(h.engine, 1)
    spec = CampaignSpec(
        "soon", window=ALWAYS, rate=1000, remind_after=timedelta(hours=12), reminders=2
    )
    campaign_id = await start(h, spec)
    await h.campaigns.dispatch(campaign_id)
    h.clock.advance(hours=24)  # the first code has expired: the reminder is a new one

    with statements(engine) as seen:
        result = await h.campaigns.dispatch(campaign_id)

    assert result.sent == 1
    assert sum(s.startswith("SELECT verification_requests.") for s in seen) == 1, seen


async def test_a_dispatch_writes_one_time(engine: AsyncEngine) -> None:
    """The request, its SMS, its audit entry and the target's send all carry the
    dispatch's one ``now``, however often the clock would move between them."""
    clock = TickingClock(T0)
    h = harness(engine, clock)
    await add_holder(h.engine, 1)
    campaign_id = await start(h, CampaignSpec("one", rate=1000))

    assert (await h.campaigns.dispatch(campaign_id)).sent == 1

    async with engine.connect() as conn:
        created = (await conn.execute(select(verification_requests.c.created_at))).scalar_one()
        queued = (await conn.execute(select(outbox.c.created_at))).scalar_one()
        sent = (await conn.execute(select(campaign_targets.c.last_sent_at))).scalar_one()
        audited = (
            await conn.execute(
                select(audit_log.c.at).where(audit_log.c.action == "request.campaign")
            )
        ).scalar_one()
    assert {created, queued, audited} == {sent}
