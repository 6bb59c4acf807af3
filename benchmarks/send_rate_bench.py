"""The shared SMS send rate (``storage/outbox/send_rate.py``): what one booking costs,
and whether several processes together keep to the rate.

    .venv/bin/python benchmarks/send_rate_bench.py \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

1. ``cost``: 2,000 acquisitions one after another with a rate too high to wait for:
   the in-memory bucket (SQLite's, one process) against one booking statement on
   PostgreSQL, median and p99 per acquisition.
2. ``sharing``: 1, 2 and 4 engines (each a process's pool) with 10 senders each
   acquire 300 sends in all at 100 per second, no burst: once with a bucket in each
   process (what separate ``serve`` instances did before) and once booking from the
   shared schedule. Printed: the rate the provider would have seen ((n - 1) / span)
   and the most sends in any one second.

A scratch database is created and dropped (:mod:`benchmarks.scratch`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database_url  # noqa: E402
from bot.providers.send_rate import SendRate, SharedSendRate  # noqa: E402
from bot.providers.token_bucket import TokenBucket  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.outbox.send_rate import SendSchedule  # noqa: E402


async def cost(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        rates: dict[str, SendRate] = {
            "in-memory bucket": TokenBucket(1e9),
            "shared (PostgreSQL)": SharedSendRate(SendSchedule(engine, "bench-cost"), 1e9),
        }
        for name, rate in rates.items():
            await rate.acquire()  # the row, a pooled connection
            took = []
            for _ in range(count):
                start = time.perf_counter()
                await rate.acquire()
                took.append((time.perf_counter() - start) * 1e6)
            took.sort()
            p99 = took[int(len(took) * 0.99) - 1]
            print(f"cost  {name:20} median {statistics.median(took):8.1f} µs  p99 {p99:8.1f} µs")
    finally:
        await engine.dispose()


async def sharing(url: str, processes: int, shared: bool, sends: int, per_second: float) -> None:
    engines = [create_engine(url) for _ in range(processes)]
    try:
        rates: list[SendRate] = [
            SharedSendRate(SendSchedule(e, f"bench-{processes}"), per_second, burst=1)
            if shared
            else TokenBucket(per_second, burst=1)
            for e in engines
        ]
        await asyncio.gather(*(r.acquire() for r in rates))
        await asyncio.sleep(1.0)  # idle: every bucket, and the schedule, full again
        times: list[float] = []
        left = [sends]

        async def sender(rate: SendRate) -> None:
            while left[0] > 0:
                left[0] -= 1
                await rate.acquire()
                times.append(time.monotonic())

        await asyncio.gather(*(sender(rates[n % processes]) for n in range(10 * processes)))
        times.sort()
        span = times[-1] - times[0]
        busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
        kind = "shared" if shared else "per process"
        print(
            f"share {processes} process(es), {kind:11}: {(len(times) - 1) / span:6.1f}/s "
            f"(configured {per_second:g}/s), busiest second {busiest}"
        )
    finally:
        for engine in engines:
            await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        async with scratch_database_url(Path(workdir), args.postgres_url) as url:
            engine = create_engine(url)
            await upgrade(engine)
            await engine.dispose()
            await cost(url, args.count)
            for processes in (1, 2, 4):
                for shared in (False, True):
                    await sharing(url, processes, shared, sends=300, per_second=100.0)


if __name__ == "__main__":
    asyncio.run(main())
