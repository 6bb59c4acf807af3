"""The verification benchmark on PostgreSQL with 1 and 2 server processes, in one run.

Run on purpose, not as a test::

    .venv/bin/python benchmarks/verify_bench.py --database postgres --processes 1,2

What it does: makes a PostgreSQL database of its own (dropped at the end) on the server
``--postgres-url`` names, prepares one live code per holder for every round up front
(the same way :mod:`benchmarks.verify_bench` does on SQLite), then for each process
count starts ``portpass serve --workers P`` on that database and drives it with the same
load generator as the SQLite benchmark: signed Twilio webhooks whose body is the
holder's code (the whole verification path), first as many as ``--concurrency`` in
flight (verifications/s), then an open-loop ``--rate`` (latency). Each round verifies
holders of its own, so every round does the same work.

Beside each round it prints the CPU time spent, over the throughput phase, by the
server processes, by PostgreSQL, by the load generator (this process) and by everything
else on the machine, read from ``/proc``, as shares of the machine and as CPU
milliseconds per verification: on a 2-core machine they all share the same cores, and
that split says what limits the figure (the CPU cost per verification does not depend on
how busy the machine was; the rate does).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from benchmarks.scratch import scratch_database_url
from benchmarks.verify_bench import (
    ROOT,
    Call,
    bench_env,
    free_port,
    paced,
    percentile,
    prepare,
    signed_calls,
    start,
    throughput,
    wait_ready,
)
from bot.config import Config, load_config
from storage.db import create_engine
from storage.tables import passes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Round:
    processes: int
    per_s: float
    tput_p50: float
    tput_p99: float
    rate_p50: float
    rate_p99: float
    cpu: dict[str, float]  # seconds of CPU over the throughput phase, by who
    elapsed: float  # seconds of the throughput phase
    load: tuple[float, float, float]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (``/proc/PID/stat``), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def processes_named(name: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def machine_seconds() -> tuple[float, float]:
    """CPU seconds of the whole machine so far (``/proc/stat``): busy (any process,
    ours or not) and waiting for the disk (iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    user, nice, system, _idle, iowait, irq, softirq = values
    return (user + nice + system + irq + softirq) / CLOCK_TICKS, iowait / CLOCK_TICKS


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far: the server (parent and workers), PostgreSQL (every backend and
    its background processes), this load generator, and the machine as a whole (the
    difference is other work on the machine: it is shared)."""
    servers = [server_pid, *children_of(server_pid)]
    own = os.times()
    busy, iowait = machine_seconds()
    return {
        "server": sum(cpu_seconds(p) for p in servers),
        "postgres": sum(cpu_seconds(p) for p in processes_named("postgres")),
        "load generator": own.user + own.system,
        "machine busy": busy,
        "iowait": iowait,
    }


def pg_config(url: str, work: Path) -> Config:
    env = {**bench_env(work / "unused.db"), "PORTPASS_DATABASE_URL": url}
    return load_config(None, env, cwd=work)


async def run_round(
    processes: int,
    url: str,
    work: Path,
    tput_calls: Sequence[Call],
    rate_calls: Sequence[Call],
    args: argparse.Namespace,
) -> Round:
    port = free_port()
    env = {**os.environ, **bench_env(work / "unused.db"), "PORTPASS_DATABASE_URL": url}
    env["PORTPASS_SERVER_EVENT_LOOP"] = args.loop  # verify_bench --loop (default asyncio)
    argv = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)]
    server = start([*argv, "--workers", str(processes)] if processes > 1 else argv, env, ROOT)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/healthz", server)
        if processes > 1:
            time.sleep(2.0)  # noqa: ASYNC251 - every worker up, not only the first to answer
        target = f"http://127.0.0.1:{port}/sms/inbound"
        before, started = cpu_snapshot(server.pid), time.perf_counter()
        per_s, lat = await throughput(target, tput_calls, args.concurrency)
        after, elapsed = cpu_snapshot(server.pid), time.perf_counter() - started
        load = os.getloadavg()
        paced_lat = await paced(target, rate_calls, args.rate)
    finally:
        server.terminate()
        server.wait(timeout=40)
    return Round(
        processes,
        per_s,
        percentile(lat, 0.5),
        percentile(lat, 0.99),
        percentile(paced_lat, 0.5),
        percentile(paced_lat, 0.99),
        {who: after[who] - before[who] for who in before},
        elapsed,
        load,
    )


def report(r: Round, rate: float, concurrency: int) -> None:
    capacity = r.elapsed * (os.cpu_count() or 1)
    ours = ("server", "postgres", "load generator")
    split = ", ".join(f"{who} {r.cpu[who] / capacity:.0%}" for who in ours)
    others = max(0.0, r.cpu["machine busy"] - sum(r.cpu[who] for who in ours))
    print(
        f"{r.processes} process{'es' if r.processes > 1 else ''}: {r.per_s:6.0f} "
        f"verifications/s at concurrency {concurrency} (p50 {r.tput_p50:.1f} ms, "
        f"p99 {r.tput_p99:.1f} ms); at {rate:.0f} req/s: p50 {r.rate_p50:.1f} ms, "
        f"p99 {r.rate_p99:.1f} ms",
        flush=True,
    )
    idle = max(0.0, 1 - r.cpu["machine busy"] / capacity)
    done = r.per_s * r.elapsed
    per_verification = ", ".join(f"{who} {r.cpu[who] / done * 1000:.2f}" for who in ours)
    print(
        f"    CPU over the throughput phase ({os.cpu_count()} cores, {r.elapsed:.1f} s): "
        f"{split}, other processes {others / capacity:.0%}, idle {idle:.0%} "
        f"(iowait {r.cpu['iowait'] / capacity:.0%}); load average {r.load[0]:.2f}",
        flush=True,
    )
    print(f"    CPU ms per verification: {per_verification}", flush=True)


async def check_verified(url: str, work: Path, expected: int) -> None:
    """Every 200 answered was a verification (an error reply is a 200 with TwiML too)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = select(func.count()).where(passes.c.verified_phone.is_not(None))
            verified = int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()
    if verified != expected:
        raise SystemExit(f"only {verified} of {expected} code replies verified their pass")
    print(f"checked: all {verified} code replies verified their pass")


async def run(args: argparse.Namespace, process_counts: Sequence[int]) -> None:
    paced_n = int(args.rate * args.seconds)
    per_round = args.requests + paced_n
    async with scratch_database_url(Path("."), args.postgres_url) as url:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            total = per_round * len(process_counts)
            print(f"preparing {total} holders with live codes on PostgreSQL...", flush=True)
            pairs = await prepare(work / "registry.db", total, pg_config(url, work))
            calls = signed_calls(pairs)
            print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
            rounds = []
            for n, processes in enumerate(process_counts):
                mine = calls[n * per_round : (n + 1) * per_round]
                tput, rate = mine[: args.requests], mine[args.requests :]
                rounds.append(await run_round(processes, url, work, tput, rate, args))
                report(rounds[-1], args.rate, args.concurrency)
            await check_verified(url, work, len(process_counts) * per_round)
            first = rounds[0]
            for r in rounds[1:]:
                print(
                    f"{r.processes} vs {first.processes} processes: throughput x"
                    f"{r.per_s / first.per_s:.2f}, p99 at {args.rate:.0f} req/s "
                    f"{r.rate_p99:.1f} vs {first.rate_p99:.1f} ms"
                )
