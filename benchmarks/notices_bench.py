"""Notices API: how long one request of 10,000 gate events takes, and how long the
server stops answering anything else meanwhile.

    .venv/bin/python benchmarks/notices_bench.py                    # SQLite, 3 runs
    .venv/bin/python benchmarks/notices_bench.py --events 10000 --runs 3 \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

Each run starts the app as ``portpass serve`` builds it (``create_app``) on a fresh
database with the demo registry, listening on a local port, and POSTs one batch to
``/api/v1/notices`` over real HTTP with a bearer token. The events cycle over a
verified pass (texted), an unverified one, a pending one and another company's pass,
so a quarter of them queue an SMS. While the batch runs, a second client asks
``/healthz`` every 10 ms: the longest wait for an answer is how long the batch held
the event loop (on SQLite the statements run on the loop thread). Printed: the
median of the runs for the request and for that longest wait.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import create_app  # noqa: E402
from bot.config import load_config  # noqa: E402
from storage.db import create_engine  # noqa: E402

TOKEN = "benchmark-gate-token-" + "x" * 24
PASSES = ["KHPS113-000047", "KHPS113-000043", "KHPS111-000014", "TCPS113-000101"]


async def postgres_database(url: str, name: str, *, drop: bool = False) -> str:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            verb = "DROP DATABASE IF EXISTS" if drop else "CREATE DATABASE"
            await conn.exec_driver_sql(f'{verb} "{name}"')
    finally:
        await engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def one_run(events: int, postgres_url: str | None, workdir: Path) -> tuple[float, float]:
    scratch = f"portpass_bench_{uuid.uuid4().hex[:12]}"
    if postgres_url:
        database = await postgres_database(postgres_url, scratch)
    else:
        database = f"sqlite:///{workdir / f'{scratch}.db'}"
    env = {
        "PORTPASS_DATABASE_URL": database,
        "PORTPASS_SECURITY_SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "PORTPASS_NOTICES_API_TOKEN_SHA256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "PORTPASS_LOGGING_LEVEL": "WARNING",
    }
    config = load_config(None, env, cwd=workdir)
    runner = web.AppRunner(create_app(config, demo=True), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    batch = [
        {
            "event_id": f"bench-{n:06d}",
            "pass_no": PASSES[n % len(PASSES)],
            "kind": "suspended_inactive",
            "occurred_at": "2026-11-26T08:30:00+08:00",
        }
        for n in range(events)
    ]
    body = json.dumps(batch).encode()
    waits: list[float] = []
    done = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as session:

            async def ping() -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    async with session.get(f"{base}/healthz") as response:
                        await response.read()
                    waits.append(time.perf_counter() - started)
                    await asyncio.sleep(0.01)

            pinger = asyncio.create_task(ping())
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            async with session.post(
                f"{base}/api/v1/notices",
                data=io.BytesIO(body),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            ) as response:
                answer = await response.json()
                assert response.status == 200, answer
            elapsed = time.perf_counter() - started
            done.set()
            await pinger
        assert answer["accepted"] == events, answer["accepted"]
    finally:
        await runner.cleanup()
        if postgres_url:
            await postgres_database(postgres_url, scratch, drop=True)
    return elapsed, max(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres-url", help="run on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            results.append(asyncio.run(one_run(args.events, args.postgres_url, Path(tmp))))
            print(
                f"  run: request {results[-1][0]:.2f} s, longest /healthz wait "
                f"{results[-1][1] * 1000:.0f} ms",
                flush=True,
            )
    backend = "postgresql" if args.postgres_url else "sqlite"
    request = statistics.median(r[0] for r in results)
    stall = statistics.median(r[1] for r in results)
    print(
        f"notices API, {args.events:,} events in one request ({backend}), median of "
        f"{args.runs}: {request:.2f} s ({args.events / request:,.0f} events/s); "
        f"longest /healthz wait meanwhile {stall * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
