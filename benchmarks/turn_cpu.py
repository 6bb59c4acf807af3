"""CPU of one code reply inside the server, without HTTP or a load generator.

Run on purpose, not as a test:
``.venv/bin/python benchmarks/turn_cpu.py [--other CHECKOUT] [--rounds 6] [--turns 500]``.

``verify_interleaved.py`` measures the whole server against a bare aiohttp handler, and
on a shared machine its CPU figures move with the load (the other core's work, the
load generator's): a change worth 5% of a reply is lost in them. This script times what
the server does for a signed code reply once the request is parsed: the sender's phone
parsed, the conversation turn (claim, code check, pass verified, audit, state saved,
reply remembered, one SQLite transaction) and the TwiML rendered, with
``bot.sms.inbound``'s own functions on the composition root ``portpass serve`` uses. It
reads ``time.process_time`` around ``--turns`` turns, single-threaded, so the figure is
this process's CPU alone.

``--other CHECKOUT`` times another checkout of this repository as well, round by round
in alternation (each round a fresh process and database of its own), so both see the
same machine. Each turn is checked to have verified its pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def worker(turns: int) -> None:
    """One round in this process: the checkout on ``PYTHONPATH``; prints µs per turn."""
    # Imported here, from the checkout under test (PYTHONPATH), not this file's own.
    from benchmarks.verify_bench import bench_config, prepare
    from bot.bootstrap import services_for
    from bot.sms.inbound import _answer_once
    from core.values import Phone

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "turn.db"
        pairs = await prepare(db, turns + 20)
        async with services_for(bench_config(db)) as services:
            regions = services.config.phone.allowed_regions

            async def reply(n: int) -> str:
                to, code = pairs[n]
                phone = Phone.parse(to, regions=regions)
                response = await _answer_once(services, f"SM{n:032x}", phone, code)
                return str(response.text)

            for n in range(20):  # warm-up: caches, compiled statements
                await reply(n)
            started = time.process_time()
            answers = [await reply(n) for n in range(20, turns + 20)]
            spent = time.process_time() - started
    verified = sum("手機驗證完成" in answer for answer in answers)
    if verified != turns:
        raise SystemExit(f"only {verified} of {turns} replies verified")
    print(json.dumps({"us_per_turn": spent / turns * 1e6}))


def run_round(checkout: Path, turns: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    argv = [sys.executable, __file__, "--worker", "--turns", str(turns)]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        argv, env=env, cwd=checkout, capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["us_per_turn"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--turns", type=int, default=500, help="code replies per round")
    parser.add_argument("--other", type=Path, help="another checkout, timed in alternation")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.turns))
        return
    checkouts = [("this", ROOT)] + ([("other", args.other.resolve())] if args.other else [])
    spent: dict[str, list[float]] = {name: [] for name, _ in checkouts}
    for _ in range(args.rounds):
        for name, checkout in checkouts:
            spent[name].append(run_round(checkout, args.turns))
    print(f"{args.rounds} rounds of {args.turns} code replies, alternating; CPU per reply:")
    for name, values in spent.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:>6}: median {statistics.median(values):6.0f} µs  ({runs})")
    if args.other:
        ratio = statistics.median(spent["this"]) / statistics.median(spent["other"])
        print(f"  this / other: {ratio:.2f}")


if __name__ == "__main__":
    main()
