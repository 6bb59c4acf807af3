"""What metrics cost: the database side of one scrape, and the counting on every request.

    .venv/bin/python benchmarks/metrics_bench.py [--rows 100000] [--runs 20] \\
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

1. The scrape's database queries (:func:`bot.metrics.database.database_snapshot`: the
   outbox queue by state and priority, the oldest pending row; the open campaigns'
   targets by state) on an outbox holding ``--rows`` rows still to send (a campaign's
   backlog at priority 2, a few of a holder's own at 0, some being sent) beside as many
   already sent (the history the query must not read), and a running campaign of
   ``--rows`` targets, median and worst of ``--runs`` scrapes, after one warm-up;
   and the longest the event loop went unserved during them (what a webhook arriving
   mid-scrape would wait).
2. The counting every inbound turn does (the middleware's note, one latency
   observation, one response count, one inbound outcome, one audit entry heard after
   the commit), in microseconds per request, median of five rounds of 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from benchmarks.scratch import scratch_database_url  # noqa: E402
from bot.bootstrap import database_for  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.metrics.database import database_snapshot  # noqa: E402
from bot.metrics.inbound import begin_note, end_note  # noqa: E402
from bot.metrics.registry import Metrics  # noqa: E402
from storage.gauges import CAMPAIGNS_QUERY, DEPTH_QUERY  # noqa: E402
from storage.tables import campaign_targets, campaigns, outbox  # noqa: E402

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _row(i: int, state: str, priority: int) -> dict[str, Any]:
    created = NOW - timedelta(seconds=i)
    return {
        "kind": "campaign" if priority == 2 else "verification",
        "to_phone": f"+8869{i % 100_000_000:08d}",
        "body": "x" * 60,
        "created_at": created,
        "updated_at": created,
        "state": state,
        "priority": priority,
        "next_attempt_at": created,
    }


async def fill(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(campaigns),
            [
                {
                    "id": 1,
                    "name": "bench",
                    "state": "running",
                    "selection": "{}",
                    "window_start": 0,
                    "window_end": 1440,
                    "rate": 10.0,
                    "valid_on": NOW.date(),
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    targets = [
        {
            "campaign_id": 1,
            "pass_no": f"KHPS113-{i:06d}",
            "company": "bench",
            "state": "sent" if i % 3 else "queued",
        }
        for i in range(rows)
    ]
    for start in range(0, rows, 10_000):
        async with engine.begin() as conn:
            await conn.execute(insert(campaign_targets), targets[start : start + 10_000])
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        queued = (
            ("pending", 0) if i % 100 == 0 else ("sending", 2) if i % 100 == 1 else ("pending", 2)
        )
        batch.append(_row(i, *queued))
        batch.append(_row(rows + i, "sent" if i % 2 else "delivered", i % 3))
        if len(batch) >= 10_000:
            async with engine.begin() as conn:
                await conn.execute(insert(outbox), batch)
            batch = []
    if batch:
        async with engine.begin() as conn:
            await conn.execute(insert(outbox), batch)


async def stalls_during(
    work: Callable[[], Awaitable[object]], runs: int
) -> tuple[list[float], float]:
    """Seconds per run of ``work``, and the longest the event loop went unserved
    meanwhile: a ticker that sleeps 1 ms notes each late wake-up (a webhook arriving
    then would wait that long). One warm-up run first."""
    await work()
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            longest = max(longest, time.perf_counter() - before - 0.001)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    done.set()
    await ticking
    return times, longest


def report(label: str, times: list[float], stall: float) -> None:
    print(
        f"  {label}: median {statistics.median(times) * 1000:.1f} ms, "
        f"worst {max(times) * 1000:.1f} ms; longest event-loop stall {stall * 1000:.1f} ms"
    )


def counting_cost(requests: int = 100_000, rounds: int = 5) -> float:
    """Microseconds of metrics work per inbound request (median of ``rounds``)."""
    metrics = Metrics()
    audited = [("sms", "verified")]
    per_request = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            _, token = begin_note()
            metrics.audited(audited)
            end_note(token)
            metrics.request("/sms/inbound", "POST", 200, 0.001)
            metrics.inbound("sms", "replied")
        per_request.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(per_request)


async def measure(name: str, postgres_url: str | None, workdir: Path, rows: int, runs: int) -> None:
    async with scratch_database_url(workdir, postgres_url) as url:
        config = load_config(None, {"PORTPASS_DATABASE_URL": url}, cwd=workdir)
        async with database_for(config) as database:
            engine = database.engine
            await fill(engine, rows)
            if postgres_url:
                async with engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE outbox")

            async def idle() -> None:
                await asyncio.sleep(0.2)

            async def scrape() -> None:
                await database_snapshot(engine, NOW)

            async def on_the_loop() -> None:
                async with engine.connect() as conn:
                    await conn.execute(DEPTH_QUERY)
                    await conn.execute(CAMPAIGNS_QUERY)

            print(f"{name}, {rows:,} rows to send beside {rows:,} sent, {rows:,} targets:")
            report("no scrape (the machine's own noise)", *await stalls_during(idle, 5))
            report("scrape as served", *await stalls_during(scrape, runs))
            if postgres_url is None:
                report(
                    "the same queries on the app's connection (not done)",
                    *await stalls_during(on_the_loop, runs),
                )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="outbox rows still to send")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres-url", help="also measure on this PostgreSQL server")
    args = parser.parse_args()

    print(f"counting per inbound request: {counting_cost():.1f} µs")
    with tempfile.TemporaryDirectory() as workdir:
        await measure("SQLite", None, Path(workdir), args.rows, args.runs)
        if args.postgres_url:
            await measure("PostgreSQL", args.postgres_url, Path(workdir), args.rows, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
