"""The verification turn against the bare handler, in alternating batches: a ratio that
holds on a shared, noisy machine.

Run on purpose, not as a test:
``.venv/bin/python benchmarks/verify_interleaved.py [--other CHECKOUT] [--loop uvloop]``.

``verify_bench.py`` measures the bare handler, then ``portpass serve``, each for several
seconds; when other work on the machine comes and goes in between, the ratio moves with
it (6% to 22% in one afternoon here). This script starts the servers side by side and
sends them the same kind of load in turns, one batch of ``--batch`` signed code replies
each, ``--batches`` times, so every server sees the same machine within seconds. Per
batch it notes each server's rate and the CPU time its process spent (from
``/proc/PID/task/*/schedstat``, Linux), and prints the medians.

``--other CHECKOUT`` adds a second ``portpass serve`` run from another checkout of this
repository (same database schema), for a before/after of a change: the figures then come
from one run, under the same conditions. Each server gets a database of its own,
prepared by this checkout's code as ``verify_bench.py`` prepares it.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.verify_bench import (
    BARE_SERVER,
    ROOT,
    Call,
    bench_env,
    free_port,
    prepare,
    signed_calls,
    start,
    throughput,
    wait_ready,
)


@dataclass
class Server:
    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    calls: list[Call]
    port: int = field(default_factory=free_port)
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def on_cpu_ns(pid: int) -> int:
    """Nanoseconds the process's threads have run on a CPU (first field of schedstat)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        with open(path, encoding="ascii") as f:
            total += int(f.read().split()[0])
    return total


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="turns per server")
    parser.add_argument("--batch", type=int, default=100, help="requests per turn")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--other", type=Path, help="another checkout to serve beside this one")
    args = parser.parse_args()
    holders = args.batches * args.batch + args.concurrency
    with tempfile.TemporaryDirectory() as tmp:
        servers: list[Server] = []
        checkouts = [("portpass", ROOT)] + ([("other", args.other.resolve())] if args.other else [])
        for name, checkout in checkouts:
            db = Path(tmp) / f"{name}.db"
            print(f"preparing {holders} holders with live codes for {name}...", flush=True)
            calls = signed_calls(await prepare(db, holders))
            env = {**os.environ, **bench_env(db), "PYTHONPATH": str(checkout)}
            if checkout == ROOT or args.loop != "asyncio":  # older checkouts lack the key
                env["PORTPASS_SERVER_EVENT_LOOP"] = args.loop
            argv = [sys.executable, "-m", "bot.cli", "serve", "--port"]
            servers.append(Server(name, argv, checkout, env, calls))
        bare_calls = servers[0].calls
        bare_argv = [sys.executable, "-c", BARE_SERVER]
        servers.insert(0, Server("bare", bare_argv, ROOT, dict(os.environ), bare_calls))
        processes = []
        try:
            for server in servers:
                argv = [*server.argv, str(server.port)]
                if server.name == "bare":
                    argv.append(args.loop)
                processes.append(start(argv, server.env, server.cwd))
            for server, process in zip(servers, processes, strict=True):
                path = "/healthz" if server.name != "bare" else "/"
                await wait_ready(f"http://127.0.0.1:{server.port}{path}", process)
            for server in servers:  # warm-up
                url = f"http://127.0.0.1:{server.port}/sms/inbound"
                await throughput(url, server.calls[: args.concurrency], args.concurrency)
            for n in range(args.batches):
                first = args.concurrency + n * args.batch
                for server, process in zip(servers, processes, strict=True):
                    url = f"http://127.0.0.1:{server.port}/sms/inbound"
                    batch = server.calls[first : first + args.batch]
                    before = on_cpu_ns(process.pid)
                    rate, _ = await throughput(url, batch, args.concurrency)
                    server.cpu_us.append((on_cpu_ns(process.pid) - before) / len(batch) / 1000)
                    server.rates.append(rate)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
    report(servers, args)


def report(servers: list[Server], args: argparse.Namespace) -> None:
    print(
        f"{args.batches} alternating batches of {args.batch} requests, "
        f"{args.concurrency} in flight, servers on {args.loop}; medians:"
    )
    bare = servers[0]
    for server in servers:
        rate = statistics.median(server.rates)
        cpu = statistics.median(server.cpu_us)
        line = f"{server.name:>10}: {rate:7.0f} req/s, {cpu:7.0f} µs CPU per request"
        if server is not bare:
            ratios = [s / b for s, b in zip(server.rates, bare.rates, strict=True)]
            line += f"; rate {statistics.median(ratios):.1%} of the bare handler's (batch by batch)"
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
