"""Where the metrics come from in storage, on SQLite and PostgreSQL: the outbox queue
and campaign progress read at scrape time (:func:`storage.gauges.read_gauges`), and the
audit entries a commit wrote, told to the unit of work's audit listeners only once
committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.model import AuditEntry, Channel
from storage.db import create_engine
from storage.gauges import CampaignTargets, Gauges, QueueDepth, read_gauges
from storage.tables import campaign_targets, campaigns, outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.database_templates import copy_template
from tests.integration.builders import T0


def outbox_row(state: str, priority: int, age_seconds: float) -> dict[str, Any]:
    created = T0 - timedelta(seconds=age_seconds)
    return {
        "kind": "notice",
        "to_phone": "+886912345678",
        "body": "x",
        "created_at": created,
        "updated_at": created,
        "state": state,
        "priority": priority,
        "next_attempt_at": created,
    }


async def test_outbox_depth_counts_the_rows_still_to_send_by_state_and_priority(
    engine: AsyncEngine,
) -> None:
    rows = [  # queued in time order, as the app queues them
        outbox_row("pending", 0, 40),
        outbox_row("pending", 0, 10),
        outbox_row("pending", 2, 600),
        outbox_row("sending", 2, 5),
        outbox_row("sent", 0, 9000),
        outbox_row("failed", 1, 9000),
        outbox_row("delivered", 2, 9000),
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), rows)

    depth = sorted((await read_gauges(engine)).outbox, key=lambda d: (d.state, d.priority))

    assert depth == [
        QueueDepth("pending", 0, 2, T0 - timedelta(seconds=40)),
        QueueDepth("pending", 2, 1, T0 - timedelta(seconds=600)),
        QueueDepth("sending", 2, 1, T0 - timedelta(seconds=5)),
    ]


async def test_an_empty_database_has_no_groups(engine: AsyncEngine) -> None:
    assert await read_gauges(engine) == Gauges(outbox=[], campaigns=[])


async def test_campaign_targets_are_counted_by_state_for_open_campaigns_only(
    engine: AsyncEngine,
) -> None:
    def campaign(campaign_id: int, state: str) -> dict[str, Any]:
        return {
            "id": campaign_id,
            "name": f"campaign {campaign_id}",
            "state": state,
            "selection": "{}",
            "window_start": 0,
            "window_end": 1440,
            "rate": 10.0,
            "valid_on": T0.date(),
            "created_at": T0,
            "updated_at": T0,
        }

    def targets(campaign_id: int, state: str, count: int) -> list[dict[str, Any]]:
        return [
            {
                "campaign_id": campaign_id,
                "pass_no": f"KHPS113-{campaign_id}{state[:2]}{n:04d}",
                "company": "高雄港測試業者",
                "state": state,
            }
            for n in range(count)
        ]

    async with engine.begin() as conn:
        await conn.execute(
            insert(campaigns),
            [campaign(1, "running"), campaign(2, "paused"), campaign(3, "done")],
        )
        rows = [
            *targets(1, "queued", 3),
            *targets(1, "sent", 2),
            *targets(1, "excluded", 1),
            *targets(2, "skipped", 4),
            *targets(3, "sent", 9),  # over: not news any more
        ]
        await conn.execute(insert(campaign_targets), rows)

    found = sorted((await read_gauges(engine)).campaigns, key=lambda c: (c.campaign_id, c.state))

    assert found == [
        CampaignTargets(1, "excluded", 1),
        CampaignTargets(1, "queued", 3),
        CampaignTargets(1, "sent", 2),
        CampaignTargets(2, "skipped", 4),
    ]


async def test_on_sqlite_a_scrape_neither_waits_for_a_writer_nor_sees_its_uncommitted_rows(
    tmp_path: Path, migrated_sqlite: Path
) -> None:
    """The app's own connection begins with BEGIN IMMEDIATE: a scrape on it would wait
    (up to 5 s, then fail) behind a writer, and stop every webhook meanwhile."""
    database = tmp_path / "portpass.db"
    copy_template(migrated_sqlite, database)
    engine = create_engine(f"sqlite:///{database}")
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [outbox_row("pending", 0, 60)])
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        writer.execute("DELETE FROM outbox")
        async with asyncio.timeout(2.0):
            depth = (await read_gauges(engine)).outbox
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        await engine.dispose()
    assert depth == [QueueDepth("pending", 0, 1, T0 - timedelta(seconds=60))]


def entry(action: str, channel: Channel = Channel.SMS) -> AuditEntry:
    return AuditEntry(at=T0, actor="sms:0912-***-678", channel=channel, action=action, subject="s")


async def test_audit_listeners_hear_what_was_committed_and_nothing_rolled_back(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    heard: list[Sequence[tuple[str, str]]] = []
    uow_factory.add_audit_listener(heard.append)

    async with uow_factory() as uow:
        await uow.audit.add(entry("verified"))
        await uow.audit.add(entry("request.holder", Channel.TELEGRAM))
        await uow.commit()
        await uow.audit.add(entry("verified", Channel.WEB))  # never committed
    async with uow_factory() as uow:
        await uow.audit.add(entry("check.wrong_code"))
        await uow.commit()
        await uow.commit()  # nothing new: nobody is told twice

    assert heard == [
        [("sms", "verified"), ("telegram", "request.holder")],
        [("sms", "check.wrong_code")],
    ]


async def test_a_failing_audit_listener_leaves_the_commit_standing(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    def broken(entries: Sequence[tuple[str, str]]) -> None:
        raise RuntimeError("a metrics bug")

    uow_factory.add_audit_listener(broken)
    async with uow_factory() as uow:
        await uow.audit.add(entry("verified"))
        await uow.commit()
    async with uow_factory.engine.connect() as conn:
        count = (await conn.exec_driver_sql("SELECT count(*) FROM audit_log")).scalar_one()
    assert count == 1
