"""Short-lived logs are pruned, and what still counts is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.conversation.inbound import InboundLog, Seen
from storage.housekeeping import Retention, prune
from storage.tables import audit_log, conversations, outbox, verification_requests
from storage.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def test_old_inbound_ids_and_failures_go_recent_ones_stay(engine: AsyncEngine) -> None:
    log = InboundLog(engine)
    await log.claim("sms", "old", NOW - timedelta(days=2))
    await log.claim("sms", "new", NOW - timedelta(minutes=5))
    uow_factory = SqlUnitOfWorkFactory(engine)
    async with uow_factory() as uow:
        await uow.failures.record("sms:+886960123411", NOW - timedelta(days=3))
        await uow.failures.record("sms:+886960123411", NOW - timedelta(minutes=10))
        await uow.commit()

    pruned = await prune(engine, NOW)

    assert (pruned.inbound_messages, pruned.lookup_failures) == (1, 1)
    assert await log.claim("sms", "new", NOW) == Seen(None)  # still known: a retry
    async with uow_factory() as uow:
        recent = await uow.failures.since("sms:+886960123411", NOW - timedelta(hours=1))
    assert len(recent) == 1  # the cool-down still sees it


# --- retention ------------------------------------------------------

DAY = timedelta(days=1)


async def seed_ages(engine: AsyncEngine) -> None:
    """For each table, a row just past its default retention and one just inside it."""
    async with engine.begin() as conn:
        for name, expired_days_ago, state in (
            ("old", 91, "expired"),
            ("recent", 89, "verified"),
            ("live", -1, "live"),
        ):
            expires = NOW - expired_days_ago * DAY
            await conn.execute(
                insert(verification_requests).values(
                    id=name,
                    pass_no="KHPS113-000043",
                    id_no="QQ12345673",
                    phone="+886960123411",
                    code_hash=f"c-{name}",
                    token_hash=f"t-{name}",
                    created_at=expires - DAY,
                    expires_at=expires,
                    origin="holder",
                    channel="sms",
                    language="zh-TW",
                    state=state,
                )
            )
        for state, days in (("sent", 31), ("delivered", 29), ("pending", 60), ("failed", 40)):
            at = NOW - days * DAY
            await conn.execute(
                insert(outbox).values(
                    kind="verification",
                    to_phone="+886960123411",
                    body="[redacted]",
                    created_at=at,
                    state=state,
                    next_attempt_at=at,
                    updated_at=at,
                )
            )
        for key, days in (("sms:old", 31), ("sms:new", 29)):
            await conn.execute(
                insert(conversations).values(key=key, state="{}", updated_at=NOW - days * DAY)
            )
        for days in (366, 364):
            await conn.execute(
                insert(audit_log).values(
                    at=NOW - days * DAY,
                    actor="cli",
                    channel="cli",
                    action="test",
                    subject=f"{days}",
                    detail="{}",
                )
            )


async def remaining(engine: AsyncEngine) -> dict[str, set[str]]:
    async with engine.connect() as conn:
        return {
            "requests": set((await conn.execute(select(verification_requests.c.id))).scalars()),
            "outbox": set((await conn.execute(select(outbox.c.state))).scalars()),
            "conversations": set((await conn.execute(select(conversations.c.key))).scalars()),
            "audit": set((await conn.execute(select(audit_log.c.subject))).scalars()),
        }


async def test_each_table_keeps_what_its_retention_keeps_and_never_unsent_sms(
    engine: AsyncEngine,
) -> None:
    await seed_ages(engine)
    pruned = await prune(engine, NOW)
    assert (pruned.verification_requests, pruned.outbox, pruned.conversations) == (1, 2, 1)
    assert pruned.audit_log == 1
    assert await remaining(engine) == {
        "requests": {"recent", "live"},
        "outbox": {"delivered", "pending"},  # a pending SMS is never pruned, however old
        "conversations": {"sms:new"},
        "audit": {"364"},
    }


async def test_a_phone_language_unused_for_a_year_is_forgotten(engine: AsyncEngine) -> None:
    from core.values import Phone

    async with SqlUnitOfWorkFactory(engine)() as uow:
        await uow.phone_languages.remember(Phone("+886960123411"), "vi", NOW - 366 * DAY)
        await uow.phone_languages.remember(Phone("+886912345678"), "id", NOW - 364 * DAY)
        await uow.commit()
    assert (await prune(engine, NOW)).phone_languages == 1
    async with SqlUnitOfWorkFactory(engine)() as uow:
        assert await uow.phone_languages.get(Phone("+886960123411")) is None
        assert await uow.phone_languages.get(Phone("+886912345678")) == "id"


async def test_a_dry_run_counts_and_deletes_nothing(engine: AsyncEngine) -> None:
    await seed_ages(engine)
    before = await remaining(engine)
    counted = await prune(engine, NOW, dry_run=True)
    assert counted == await prune(engine, NOW, dry_run=True)  # nothing changed
    assert await remaining(engine) == before
    assert counted.total == 5


async def test_configured_retention_is_what_counts(engine: AsyncEngine) -> None:
    await seed_ages(engine)
    shorter = Retention(verification_requests=10 * DAY, audit_log=400 * DAY)
    pruned = await prune(engine, NOW, shorter)
    assert pruned.verification_requests == 2 and pruned.audit_log == 0
    assert (await remaining(engine))["requests"] == {"live"}


async def test_pruning_goes_in_small_transactions(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for i in range(10):
            await conn.execute(
                insert(audit_log).values(
                    at=NOW - 400 * DAY,
                    actor="cli",
                    channel="cli",
                    action="old",
                    subject=str(i),
                    detail="{}",
                )
            )
    commits: list[int] = []
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(engine.sync_engine, "commit", listener)
    try:
        pruned = await prune(engine, NOW, batch=3)
    finally:
        event.remove(engine.sync_engine, "commit", listener)
    assert pruned.audit_log == 10
    assert (await remaining(engine))["audit"] == set()
    # 10 rows in batches of 3: four transactions for the audit log, one per other table.
    assert len(commits) == 4 + 7
