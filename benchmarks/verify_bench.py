"""Verification throughput and latency over real HTTP, against a bare aiohttp handler.

Run on purpose, not as a test: ``.venv/bin/python benchmarks/verify_bench.py``.

What it does, all on this machine:

1. Builds a SQLite registry of ``--holders`` holders (one phone each) and asks for a
   code for every one through the real :class:`VerificationService`, reading each code
   back from the (sealed) SMS body in the outbox (the SMS themselves are marked sent, so the
   server's worker has nothing to do).
2. Starts ``portpass serve`` in its own process on that database, and a bare aiohttp
   server (one handler answering a fixed TwiML document) in another.
3. Drives both with the same load generator, from this process: signed Twilio webhook
   POSTs to ``/sms/inbound`` whose body is the holder's code, i.e. the full
   verification path (signature check, de-duplication, conversation turn, code check,
   pass verified, audit, reply). Each request verifies a different holder.
   - throughput: ``--concurrency`` requests in flight until ``--requests`` are done;
   - latency: an open-loop schedule at ``--rate`` requests/s for ``--seconds``.
4. Prints throughput, p50/p99 latency for both, and their ratio.

With ``--database postgres`` it runs the scale-out benchmark instead (1 and 2 server
processes on PostgreSQL, :mod:`benchmarks.scaleout`), with the same preparation and load.

``--loop uvloop`` runs both servers on uvloop (``server.event_loop``), so the ratio
compares like with like; the load generator stays on asyncio's loop either way.

Why one module: it is one benchmark, whose preparation, load generator and report only
make sense together (the scale-out mode reuses them and lives in its own module).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from sqlalchemy import func, select, update
from twilio.request_validator import RequestValidator

from bot.bootstrap import database_for, services_for
from bot.config import Config, load_config
from core.model import Channel, Requester
from core.values import IdNumber, PassNumber, Phone
from storage.outbox.queue import OutboxQueue
from storage.registry.importer import import_registry
from storage.tables import outbox, passes

PUBLIC = "https://pp.example.tw"
TOKEN = "bench-twilio-auth-token"
SECRET = "bench-secret-key-" + "x" * 32
ROOT = Path(__file__).resolve().parents[1]

BARE_SERVER = """
import sys
from aiohttp import web
BODY = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
async def handle(request):
    await request.post()
    return web.Response(text=BODY, content_type="text/xml")
app = web.Application()
app.router.add_post("/sms/inbound", handle)
loop = None
if sys.argv[2] == "uvloop":  # the loop portpass serve is given too (--loop)
    import uvloop
    loop = uvloop.new_event_loop()
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=loop)
"""


@dataclass(frozen=True)
class Call:
    body: bytes
    signature: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def phone_of(n: int) -> str:
    return f"+8869{10000000 + n:08d}"


def bench_env(db: Path) -> dict[str, str]:
    """The configuration of the server under test, which the preparation shares."""
    return {
        "PORTPASS_DATABASE_URL": f"sqlite:///{db}",
        "PORTPASS_SERVER_PUBLIC_BASE_URL": PUBLIC,
        "PORTPASS_SECURITY_SECRET_KEY": SECRET,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PORTPASS_LOGGING_LEVEL": "WARNING",
    }


def bench_config(db: Path) -> Config:
    return load_config(None, bench_env(db), cwd=db.parent)


async def prepare(db: Path, holders: int, config: Config | None = None) -> list[tuple[str, str]]:
    """The registry and one live request per holder: (phone, code) pairs, made by the
    services the server will run on (from the same composition root and config; the
    SQLite file ``db`` unless ``config`` names another database)."""
    csv_path = db.with_suffix(".csv")
    with csv_path.open("w", encoding="utf-8") as f:
        f.write("pass_no,id_no,name,phone,valid_from,valid_to,company\n")
        for n in range(holders):
            f.write(
                f"KHPS113-{n:06d},BENCH{n:06d},holder{n},0{phone_of(n)[4:]},"
                "2026/01/01,2030/12/31,bench\n"
            )
    async with services_for(config or bench_config(db)) as services:
        await import_registry(services.engine, csv_path)
        for n in range(holders):
            await services.verification.request_as_holder(
                Requester(key=f"bench:{n}", channel=Channel.SMS, actor="bench"),
                PassNumber(f"KHPS113-{n:06d}"),
                IdNumber(f"BENCH{n:06d}"),
                Phone(phone_of(n)),
            )
        async with services.uow() as uow:
            queued = await uow.outbox.pending(limit=holders)
            await uow.connection.execute(update(outbox).values(state="sent"))
            await uow.commit()
        opener = OutboxQueue(services.engine, services.sealer)  # codes are stored sealed
    codes = [re.search(r"驗證碼(\d{6})", opener.readable_body(row)) for row in queued]
    assert all(codes), "an SMS without a code"
    return [(row.sms.to.e164, m.group(1)) for row, m in zip(queued, codes, strict=True) if m]


async def count_verified(db: Path) -> int:
    """Passes verified, to check that every 200 answered was a verification (an error
    reply is a 200 with TwiML too)."""
    async with database_for(bench_config(db)) as database, database.engine.connect() as conn:
        query = select(func.count()).where(passes.c.verified_phone.is_not(None))
        return int((await conn.execute(query)).scalar_one())


def signed_calls(pairs: Sequence[tuple[str, str]]) -> list[Call]:
    validator = RequestValidator(TOKEN)
    url = f"{PUBLIC}/sms/inbound"
    calls = []
    for n, (to, code) in enumerate(pairs):
        params = {"MessageSid": f"SM{n:032x}", "From": to, "To": "+15005550006", "Body": code}
        calls.append(Call(urlencode(params).encode(), validator.compute_signature(url, params)))
    return calls


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status in (200, 404, 405):
                        return
            await asyncio.sleep(0.05)
    raise SystemExit(f"server at {url} did not start")


async def post(session: aiohttp.ClientSession, url: str, call: Call) -> float:
    started = time.perf_counter()
    async with session.post(
        url,
        data=call.body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": call.signature,
        },
    ) as response:
        text = await response.text()
        if response.status != 200:
            raise SystemExit(f"{url}: HTTP {response.status}: {text[:200]}")
    return time.perf_counter() - started


async def throughput(
    url: str, calls: Sequence[Call], concurrency: int
) -> tuple[float, list[float]]:
    queue = iter(calls)
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def runner() -> None:
            for call in queue:
                latencies.append(await post(session, url, call))

        started = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(calls) / elapsed, latencies


async def paced(url: str, calls: Sequence[Call], rate: float) -> list[float]:
    """Open loop: request i starts at i/rate whatever happened to the earlier ones, so
    a slow server shows up as latency, not as a lower offered rate."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()

        async def one(i: int, call: Call) -> float:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            return await post(session, url, call)

        return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(calls))))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(
    name: str,
    url: str,
    tput_calls: Sequence[Call],
    rate_calls: Sequence[Call],
    args: argparse.Namespace,
) -> dict[str, float]:
    per_s, lat = await throughput(url, tput_calls, args.concurrency)
    paced_lat = await paced(url, rate_calls, args.rate)
    result = {
        "per_s": per_s,
        "tput_p50": percentile(lat, 0.5),
        "tput_p99": percentile(lat, 0.99),
        "rate_p50": percentile(paced_lat, 0.5),
        "rate_p99": percentile(paced_lat, 0.99),
        "rate_mean": statistics.fmean(paced_lat) * 1000,
    }
    print(
        f"{name:>10}: {per_s:8.0f} req/s at concurrency {args.concurrency} "
        f"(p50 {result['tput_p50']:.1f} ms, p99 {result['tput_p99']:.1f} ms); "
        f"at {args.rate:.0f} req/s: p50 {result['rate_p50']:.1f} ms, "
        f"p99 {result['rate_p99']:.1f} ms",
        flush=True,
    )
    return result


def start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests",
        type=int,
        help="for the throughput phase (default 3000; 1000 with --database postgres)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="for the latency phase, req/s (default 200; 100 with --database postgres)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="for the latency phase (default 10; 5 with --database postgres)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="sqlite: against the bare handler; postgres: 1 and more processes "
        "(benchmarks/scaleout.py)",
    )
    parser.add_argument(
        "--processes", default="1,2", help="with --database postgres: the process counts"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PORTPASS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="with --database postgres: a server where a scratch database is made (and "
        "dropped); this database is only connected to, to create it "
        "(default: $PORTPASS_TEST_POSTGRES_URL, else the tests' .../test)",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop of both servers (the load generator keeps asyncio's)",
    )
    args = parser.parse_args(argv)
    # On PostgreSQL both rounds (1 and 2 processes) run in one go: defaults that finish
    # within a minute; docs/benchmarks.md gives the options of its figures.
    scale_out = args.database == "postgres"
    for name, sqlite_default, postgres_default in (
        ("requests", 3000, 1000),
        ("rate", 200.0, 100.0),
        ("seconds", 10.0, 5.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, postgres_default if scale_out else sqlite_default)
    return args


async def main() -> None:
    args = options()
    if args.database == "postgres":
        sys.path.insert(0, str(ROOT))  # run as a script: the checkout's packages
        from benchmarks.scaleout import run  # only this mode needs it

        await run(args, [int(n) for n in args.processes.split(",")])
        return
    paced_n = int(args.rate * args.seconds)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "bench.db"
        print(f"preparing {args.requests + paced_n} holders with live codes...", flush=True)
        pairs = await prepare(db, args.requests + paced_n)
        calls = signed_calls(pairs)
        tput_calls, rate_calls = calls[: args.requests], calls[args.requests :]

        app_port, bare_port = free_port(), free_port()
        env = {**os.environ, **bench_env(db), "PORTPASS_SERVER_EVENT_LOOP": args.loop}
        print(f"both servers on the {args.loop} event loop", flush=True)
        app = start([sys.executable, "-m", "bot.cli", "serve", "--port", str(app_port)], env, ROOT)
        bare = start([sys.executable, "-c", BARE_SERVER, str(bare_port), args.loop], env, ROOT)
        try:
            await wait_ready(f"http://127.0.0.1:{app_port}/healthz", app)
            await wait_ready(f"http://127.0.0.1:{bare_port}/", bare)
            app_url = f"http://127.0.0.1:{app_port}/sms/inbound"
            bare_url = f"http://127.0.0.1:{bare_port}/sms/inbound"
            # The bare handler does nothing with a request, so it may see each one twice.
            bare_result = await measure("bare", bare_url, tput_calls, rate_calls, args)
            app_result = await measure("portpass", app_url, tput_calls, rate_calls, args)
        finally:
            for process in (app, bare):
                process.terminate()
                process.wait(timeout=10)
        verified = await count_verified(db)
    if verified != len(calls):
        raise SystemExit(f"only {verified} of {len(calls)} code replies verified their pass")
    print(f"checked: all {verified} code replies verified their pass")
    ratio = app_result["per_s"] / bare_result["per_s"]
    print(f"ratio: portpass throughput is {ratio:.0%} of the bare handler's")
    print(
        "targets: >= 1000 verifications/s and p99 < 50 ms at 200 req/s, "
        ">= 15% of bare: "
        f"{'met' if app_result['per_s'] >= 1000 else 'NOT met'}, "
        f"{'met' if app_result['rate_p99'] < 50 else 'NOT met'}, "
        f"{'met' if ratio >= 0.15 else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
