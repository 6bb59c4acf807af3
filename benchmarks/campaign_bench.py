"""Campaign numbers, each measured --runs times (median reported):

    .venv/bin/python benchmarks/campaign_bench.py [--postgres-url postgresql://postgres@127.0.0.1:5432/test]
    .venv/bin/python benchmarks/campaign_bench.py --passes 100000 --runs 3 \
        --rates 10,100,500 --window 0

The defaults (10,000 passes, one run, 100 SMS/s measured over 5 s) finish in about a
minute on a scratch database, to try it; the second line gives the figures in ``docs/benchmarks.md``
(several minutes).

1. ``create``: ``portpass campaign create`` over a registry of ``--passes`` passes
   (100,000), as an admin runs it: the whole command, a fresh process, wall time.
   Target: at most 15 s.
2. ``rate``: ``portpass serve`` (its own process, the ``twilio`` sender) sends a campaign
   at ``--rates`` (10, 100, 500 SMS/s) to FakeTwilio, which runs in this process and
   notes when each message arrives. The rate is the messages that arrived in a steady
   window (after a 2 s warm-up) divided by its length. ``sms.max_per_second`` is set
   well above the campaign's rate, so what is measured is the campaign's own pacing.
   Target: within 2% of the configured rate. Serve's RSS is sampled meanwhile.
3. ``holder``: a 100,000-pass campaign at 100/s with ``sms.max_per_second`` 100 (the
   campaign takes all of it); ten holders ask for a code over the SMS webhook (signed
   like Twilio: 驗證, pass, ID, 1). Measured: from the answer to the holder's "1" (the
   request and its SMS are committed) to FakeTwilio receiving the holder's code.
   Target: within 1 s. Serve's peak RSS (VmHWM) is the figure for "RSS while a
   campaign runs" (target: 200 MB).
4. ``dispatch``: the CPU time of the campaign dispatcher alone per target (requests,
   outbox rows, target marks; nothing sent), in this process: what a campaign adds to
   each SMS, apart from sending it.

Why one module: the three measurements share their set-up (the registry, FakeTwilio
with arrival times, serve as a process, the CLI), and one command reproduces them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database_url  # noqa: E402
from bot.bootstrap import Overrides, campaign_policy, database_for, services_for  # noqa: E402
from bot.config import load_config  # noqa: E402
from core.campaigns.model import CampaignSpec, Selection  # noqa: E402
from core.campaigns.schedule import Window  # noqa: E402
from fakes.twilio_api import FakeTwilio  # noqa: E402
from storage.registry.importer import import_registry  # noqa: E402

PYTHON = [sys.executable, "-m", "bot.cli"]
HOLDERS = 10


class TimedFakeTwilio(FakeTwilio):
    """FakeTwilio that notes when each message request arrives, and for whom."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, str]] = []

    async def _create_message(self, request: web.Request) -> web.Response:
        arrived = time.perf_counter()
        response = await super()._create_message(request)
        if self.messages:
            self.arrivals.append((arrived, str(self.messages[-1]["to"])))
        return response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_registry(path: Path, passes: int) -> None:
    """``passes`` campaign holders (CPPS…) in three companies, and HOLDERS holders
    (HDPS…) who ask for their own code; every one with a phone of their own."""
    with path.open("w", encoding="utf-8") as f:
        f.write("pass_no,id_no,name,phone,valid_from,valid_to,company\n")
        for n in range(passes):
            f.write(
                f"CPPS113-{n:06d},CP{n:08d},holder{n},09{10000000 + n:08d},"
                f"2020/01/01,2099/12/31,company{n % 3}\n"
            )
        for n in range(HOLDERS):
            f.write(
                f"HDPS113-{n:06d},HD{n:08d},asker{n},0988{n:06d},2020/01/01,2099/12/31,holders\n"
            )


def holder_phone(n: int) -> str:
    return f"+886988{n:06d}"


@dataclass
class Bench:
    workdir: Path
    fake: TimedFakeTwilio
    env: dict[str, str] = field(default_factory=dict)

    def configure(self, url: str, *, max_per_second: float, port: int) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PORTPASS_")},
            "PORTPASS_DATABASE_URL": url,
            "PORTPASS_SECURITY_SECRET_KEY": "campaign-bench-secret-key-" + "x" * 32,
            "PORTPASS_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "PORTPASS_SERVER_PORT": str(port),
            "PORTPASS_SMS_SENDER": "twilio",
            "PORTPASS_SMS_MAX_PER_SECOND": f"{max_per_second:g}",
            "PORTPASS_TWILIO_ACCOUNT_SID": self.fake.account_sid,
            "PORTPASS_TWILIO_AUTH_TOKEN": self.fake.auth_token,
            "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
            "PORTPASS_TWILIO_API_BASE_URL": self.fake.url,
            "PORTPASS_LOGGING_LEVEL": "WARNING",
        }

    async def cli(self, *argv: str) -> tuple[float, str]:
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *PYTHON,
            *argv,
            env=self.env,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"portpass {' '.join(argv)} failed: {err.decode()}")
        return time.perf_counter() - started, out.decode()

    async def create(self, *options: str) -> str:
        """``portpass campaign create`` with ``options``; the new campaign's id."""
        _, out = await self.cli("campaign", "create", *options)
        match = re.search(r"stored as campaign (\d+)", out)
        if match is None:
            raise SystemExit(f"no campaign stored: {out}")
        return match.group(1)

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[asyncio.subprocess.Process]:
        port = self.env["PORTPASS_SERVER_PORT"]
        process = await asyncio.create_subprocess_exec(
            *PYTHON,
            "serve",
            env=self.env,
            cwd=self.workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(600):
                    if process.returncode is not None:
                        raise SystemExit("serve exited at start")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                            if r.status == 200:
                                break
                    await asyncio.sleep(0.05)
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, MiB."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, amount, _ = line.split()
                values[key] = int(amount) / 1024
    return values.get("VmRSS:", 0.0), values.get("VmHWM:", 0.0)


# --- fresh databases holding the registry ---------------------------------------------


@dataclass
class Registry:
    """The registry imported once; each run gets a fresh copy (SQLite) or the same
    database with the campaigns of earlier runs removed (PostgreSQL)."""

    url: str
    workdir: Path

    @property
    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.url.removeprefix(prefix)) if self.url.startswith(prefix) else None

    async def fresh(self, name: str) -> str:
        source = self.sqlite_path
        if source is None:
            await self._clear_postgres()
            return self.url
        target = self.workdir / f"{name}.db"
        await asyncio.to_thread(_copy_sqlite, source, target)
        return f"sqlite:///{target}"

    async def _clear_postgres(self) -> None:
        config = load_config(None, {"PORTPASS_DATABASE_URL": self.url}, cwd=self.workdir)
        async with database_for(config) as db, db.engine.begin() as conn:
            for table in (
                "campaign_targets",
                "campaigns",
                "outbox",
                "verification_requests",
                "audit_log",
                "conversations",
                "inbound_messages",
                "lookup_failures",
            ):
                await conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608 - fixed names


def _copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.chmod(target, 0o600)


@contextlib.asynccontextmanager
async def registry(workdir: Path, postgres_url: str | None, passes: int) -> AsyncIterator[Registry]:
    async with scratch_database_url(workdir, postgres_url) as url:
        csv_path = workdir / "registry.csv"
        write_registry(csv_path, passes)
        config = load_config(None, {"PORTPASS_DATABASE_URL": url}, cwd=workdir)
        started = time.perf_counter()
        async with database_for(config) as db:
            report = await import_registry(db.engine, csv_path)
        assert report.committed, report.errors
        took = time.perf_counter() - started
        print(f"  registry: {passes + HOLDERS:,} passes imported in {took:.1f} s")
        yield Registry(url, workdir)


# --- 1. campaign create ------------------------------------------------------------------


async def bench_create(bench: Bench, reg: Registry, runs: int, passes: int) -> list[float]:
    times = []
    for run in range(runs):
        url = await reg.fresh(f"create{run}")
        bench.configure(url, max_per_second=10, port=free_port())
        seconds, out = await bench.cli(
            "campaign", "create", "--name", f"bench {run}", "--pass-prefix", "CPPS",
            "--window", "00:00-24:00",
        )  # fmt: skip
        assert f"recipients: {passes:,} of {passes:,}" in out, out
        times.append(seconds)
        print(f"  create run {run + 1}: {seconds:.2f} s")
    return times


# --- 2. dispatch rate ----------------------------------------------------------------------


@dataclass
class RateRun:
    rate: float
    measured: float
    rss_max: float
    hwm: float
    cpu_ms_per_sms: float  # serve's CPU time per SMS in the window: load-independent
    load: str


async def bench_rate(bench: Bench, reg: Registry, rate: float, run: int, window: float) -> RateRun:
    warmup = 2.0
    url = await reg.fresh(f"rate{rate:g}-{run}")
    bench.configure(url, max_per_second=max(1000.0, rate * 2), port=free_port())
    campaign = await bench.create(
        "--name", "rate", "--pass-prefix", "CPPS", "--window", "00:00-24:00", "--rate", f"{rate:g}"
    )
    rss = 0.0
    async with bench.serve() as server:
        bench.fake.arrivals.clear()
        await bench.cli("campaign", "start", campaign)
        while not bench.fake.arrivals:  # noqa: ASYNC110 - what FakeTwilio received
            await asyncio.sleep(0.01)
        first = bench.fake.arrivals[0][0]
        end = first + warmup + window
        await asyncio.sleep(max(0.0, first + warmup - time.perf_counter()))
        cpu_start = cpu_seconds(server.pid)
        while time.perf_counter() < end:
            rss = max(rss, memory_mib(server.pid)[0])
            await asyncio.sleep(0.25)
        cpu = cpu_seconds(server.pid) - cpu_start
        hwm = memory_mib(server.pid)[1]
    counted = [t for t, _ in bench.fake.arrivals if first + warmup <= t < end]
    per_sms = cpu / len(counted) * 1000 if counted else float("nan")
    return RateRun(rate, len(counted) / window, rss, hwm, per_sms, load_average())


# --- 3. a holder's own code during a campaign ------------------------------------------------


async def inbound(
    session: aiohttp.ClientSession, bench: Bench, sender: str, body: str, n: int
) -> str:
    base = bench.env["PORTPASS_SERVER_PUBLIC_BASE_URL"]
    url = f"{base}/sms/inbound"
    params = {
        "MessageSid": f"SM{time.time_ns():x}{n:04x}",
        "AccountSid": bench.fake.account_sid,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
    }
    signature = RequestValidator(bench.fake.auth_token).compute_signature(url, params)
    async with session.post(
        url,
        data=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    ) as response:
        text = await response.text()
        if response.status != 200:
            raise SystemExit(f"inbound SMS: HTTP {response.status}: {text[:200]}")
        return text


@dataclass
class HolderRun:
    latencies: list[float]
    campaign_sms: int
    hwm: float


async def bench_holder(bench: Bench, reg: Registry, run: int, passes: int) -> HolderRun:
    url = await reg.fresh(f"holder{run}")
    bench.configure(url, max_per_second=100, port=free_port())
    campaign = await bench.create(
        "--name",
        "holders wait?",
        "--pass-prefix",
        "CPPS",
        "--window",
        "00:00-24:00",
        "--rate",
        "100",
    )
    latencies = []
    async with bench.serve() as server, aiohttp.ClientSession() as session:
        bench.fake.arrivals.clear()
        await bench.cli("campaign", "start", campaign)
        await asyncio.sleep(5)  # the campaign in full swing
        for n in range(HOLDERS):
            phone = holder_phone(n)
            for step, text in enumerate(("驗證", f"HDPS113-{n:06d}", f"HD{n:08d}")):
                await inbound(session, bench, phone, text, step)
            seen = len(bench.fake.arrivals)
            reply = await inbound(session, bench, phone, "1", 9)
            committed = time.perf_counter()
            if "驗證碼已經成功送出" not in reply:
                raise SystemExit(f"holder {n}: no code sent: {reply[:300]}")
            while not any(to == phone for _, to in bench.fake.arrivals[seen:]):  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            arrived = next(t for t, to in bench.fake.arrivals[seen:] if to == phone)
            latencies.append(arrived - committed)
            await asyncio.sleep(0.5)
        hwm = memory_mib(server.pid)[1]
    campaign_sms = sum(1 for _, to in bench.fake.arrivals if to.startswith("+88691"))
    assert campaign_sms < passes  # the campaign was still running throughout
    return HolderRun(latencies, campaign_sms, hwm)


# --- 4. the dispatcher's own cost ----------------------------------------------------------


async def bench_dispatch_cpu(reg: Registry, run: int, targets: int = 3000) -> float:
    """CPU ms per target of :meth:`CampaignService.dispatch` alone, in this process, with
    nothing sending (backpressure off): what the campaign adds to each SMS."""
    url = await reg.fresh(f"dispatch{run}")
    env = {"PORTPASS_DATABASE_URL": url, "PORTPASS_SECURITY_SECRET_KEY": "d" * 40}
    config = load_config(None, env, cwd=reg.workdir)
    policy = replace(campaign_policy(config), max_per_second=1e9, lookahead=1e6)
    async with services_for(config, overrides=Overrides(campaign_policy=policy)) as services:
        spec = CampaignSpec(
            "cpu", Selection(pass_prefixes=("CPPS",)), Window.parse("00:00-24:00"), rate=1e4
        )
        plan = await services.campaigns.create(spec, dry_run=False)
        assert plan.campaign_id is not None
        await services.campaigns.start(plan.campaign_id)
        started, sent = time.process_time(), 0
        while sent < targets:
            sent += (await services.campaigns.dispatch(plan.campaign_id)).sent
        return (time.process_time() - started) / sent * 1000


# --- main --------------------------------------------------------------------------------


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--passes", type=int, default=10_000, help="registry size (published: 100000)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs per figure (published: 3)")
    parser.add_argument(
        "--rates", default="100", help="campaign rates, SMS/s (published: 10,100,500)"
    )
    parser.add_argument(
        "--window",
        type=float,
        default=5.0,
        help="seconds of steady sending each rate is measured over (published: 0, which "
        "means 20 at 10/s and 10 above)",
    )
    parser.add_argument(
        "--postgres-url", help="a PostgreSQL server for a scratch database (default: SQLite)"
    )
    parser.add_argument(
        "--only", default="create,rate,holder,dispatch", help="which figures, comma-separated"
    )
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> None:
    args = options(argv)
    parts = set(args.only.split(","))
    rates = [float(r) for r in args.rates.split(",") if r]
    backend = "PostgreSQL" if args.postgres_url else "SQLite"
    workdir = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    print(f"campaign benchmark on {backend}, {args.passes:,} passes, {args.runs} runs each")
    try:
        async with (
            TimedFakeTwilio() as fake,
            registry(workdir, args.postgres_url, args.passes) as reg,
        ):
            bench = Bench(workdir, fake)
            if "create" in parts:
                times = await bench_create(bench, reg, args.runs, args.passes)
                print(f"campaign create: median {statistics.median(times):.2f} s "
                      f"(runs {', '.join(f'{t:.2f}' for t in times)}); target <= 15 s")  # fmt: skip
            if "rate" in parts:
                for rate in rates:
                    window = args.window or (20.0 if rate <= 10 else 10.0)
                    results = [
                        await bench_rate(bench, reg, rate, run, window) for run in range(args.runs)
                    ]
                    measured = [r.measured for r in results]
                    median = statistics.median(measured)
                    off = (median - rate) / rate * 100
                    cpu = statistics.median(r.cpu_ms_per_sms for r in results)
                    print(
                        f"rate {rate:g}/s: median {median:.2f}/s ({off:+.2f}%; runs "
                        f"{', '.join(f'{m:.2f}' for m in measured)}); serve CPU "
                        f"{cpu:.2f} ms per SMS; RSS max {max(r.rss_max for r in results):.0f}"
                        f" MiB, peak {max(r.hwm for r in results):.0f} MiB; load average "
                        f"{'; '.join(r.load for r in results)}"
                    )
            if "holder" in parts:
                runs = [
                    await bench_holder(bench, reg, run, args.passes) for run in range(args.runs)
                ]
                medians = [statistics.median(r.latencies) for r in runs]
                worst = [max(r.latencies) for r in runs]
                print(
                    f"holder's code during a campaign at 100/s: median of run medians "
                    f"{statistics.median(medians) * 1000:.0f} ms, worst "
                    f"{max(worst) * 1000:.0f} ms (runs: "
                    + ", ".join(
                        f"{m * 1000:.0f}/{w * 1000:.0f} ms"
                        for m, w in zip(medians, worst, strict=True)
                    )
                    + f"); serve peak RSS {max(r.hwm for r in runs):.0f} MiB; target 1 s"
                )
            if "dispatch" in parts:
                alone = [await bench_dispatch_cpu(reg, run) for run in range(args.runs)]
                print(
                    f"dispatch alone: median {statistics.median(alone):.2f} ms CPU per target "
                    f"(runs {', '.join(f'{c:.2f}' for c in alone)})"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
