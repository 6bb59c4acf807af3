"""The campaign benchmark's rate and holder figures with ``sms.sender = "smpp"``:

    .venv/bin/python benchmarks/campaign_smpp.py --passes 100000 --rates 300 --runs 3 \
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--only rate,holder]

As :mod:`benchmarks.campaign_bench` measures them (``portpass serve`` in its own
process, a fresh copy of a ``--passes`` registry per run, the rate over a steady window
after a 2 s warm-up, serve's CPU per SMS in that window), but serve binds to the fake
SMSC (:mod:`benchmarks.smsc_process`) in a third process, which notes each ``submit_sm``
it takes. ``holder``: during a campaign at ``--holder-rate`` (default 300/s), ten
holders text 驗證, pass, ID and 1 as ``deliver_sm``; measured from the SMSC's answer
to their "1" (the turn and the code request are committed) to the SMSC taking their
verification SMS. Target: 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.campaign_bench import (  # noqa: E402
    HOLDERS,
    Bench,
    Registry,
    bench_rate,
    free_port,
    holder_phone,
    registry,
)


@dataclass
class SmscProcess:
    """The fake SMSC as a process: its arrivals tailed from a file, holders' messages
    injected through its stdin."""

    port: int
    arrivals_path: Path
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    codes: list[tuple[float, str]] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    # What Bench.configure writes into the (unused) [twilio] keys.
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "unused"
    url: str = "http://127.0.0.1:9"
    _tail: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[SmscProcess]:
        self.arrivals_path.touch()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.smsc_process", "--port", str(self.port),
            "--arrivals", str(self.arrivals_path), "--control",
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None
        await self.process.stdout.readline()  # "fake SMSC on ..."
        self._tail = asyncio.create_task(self._follow())
        try:
            yield self
        finally:
            self._tail.cancel()
            self.process.terminate()
            await self.process.wait()

    async def _follow(self) -> None:
        with self.arrivals_path.open(encoding="ascii") as log:
            while True:
                line = log.readline()
                if not line.endswith("\n"):
                    await asyncio.sleep(0.01)
                    if line:
                        log.seek(log.tell() - len(line))
                    continue
                at, to, kind = line.split()
                self.arrivals.append((float(at), to))
                if kind == "code":
                    self.codes.append((float(at), to))

    async def mo(self, phone: str, text: str) -> None:
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(f"mo {phone} {text}\n".encode())
        answer = (await self.process.stdout.readline()).decode().strip()
        if answer != "mo 0":
            raise SystemExit(f"the SMSC's message from {phone} was answered {answer!r}")


@dataclass
class SmppBench(Bench):
    def configure(self, url: str, *, max_per_second: float, port: int) -> None:
        super().configure(url, max_per_second=max_per_second, port=port)
        smsc = self.fake
        assert isinstance(smsc, SmscProcess)
        self.env.update({
            "PORTPASS_SMS_SENDER": "smpp",
            "PORTPASS_SMPP_HOST": "127.0.0.1",
            "PORTPASS_SMPP_PORT": str(smsc.port),
            "PORTPASS_SMPP_SYSTEM_ID": "portpass",
            "PORTPASS_SMPP_PASSWORD": "secret12",
            "PORTPASS_SMPP_SOURCE_ADDR": "PortPass",
            "PORTPASS_SMPP_MAX_PER_SECOND": f"{max_per_second * 2:g}",
            "PORTPASS_SMPP_WINDOW": "20",
        })  # fmt: skip


async def bench_holder(bench: SmppBench, reg: Registry, run: int, rate: float) -> list[float]:
    smsc = bench.fake
    assert isinstance(smsc, SmscProcess)
    url = await reg.fresh(f"holder{run}")
    bench.configure(url, max_per_second=rate, port=free_port())
    campaign = await bench.create(
        "--name", "holders", "--pass-prefix", "CPPS", "--window", "00:00-24:00",
        "--rate", f"{rate:g}",
    )  # fmt: skip
    latencies = []
    async with bench.serve():
        await bench.cli("campaign", "start", campaign)
        await asyncio.sleep(5)  # the campaign in full swing
        for n in range(HOLDERS):
            phone = holder_phone(n)
            for text in ("驗證", f"HDPS113-{n:06d}", f"HD{n:08d}"):
                await smsc.mo(phone, text)
                await asyncio.sleep(0.05)
            seen = len(smsc.codes)
            await smsc.mo(phone, "1")
            committed = time.perf_counter()
            async with asyncio.timeout(30):
                while not any(to == phone for _, to in smsc.codes[seen:]):  # noqa: ASYNC110
                    await asyncio.sleep(0.002)
            arrived = next(t for t, to in smsc.codes[seen:] if to == phone)
            latencies.append(arrived - committed)
            await asyncio.sleep(0.5)
    return latencies


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--rates", default="300")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--holder-rate", type=float, default=300.0)
    parser.add_argument("--postgres-url")
    parser.add_argument("--only", default="rate,holder")
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> None:
    args = options(argv)
    parts = set(args.only.split(","))
    backend = "PostgreSQL" if args.postgres_url else "SQLite"
    workdir = Path(tempfile.mkdtemp(prefix="campaign-smpp-"))
    print(f"campaign benchmark over SMPP on {backend}, {args.passes:,} passes, {args.runs} runs")
    try:
        smsc = SmscProcess(free_port(), workdir / "arrivals.log")
        async with smsc.running(), registry(workdir, args.postgres_url, args.passes) as reg:
            bench = SmppBench(workdir, smsc)  # type: ignore[arg-type]
            if "rate" in parts:
                for rate in [float(r) for r in args.rates.split(",") if r]:
                    runs = [
                        await bench_rate(bench, reg, rate, run, args.window)
                        for run in range(args.runs)
                    ]
                    measured = [r.measured for r in runs]
                    median = statistics.median(measured)
                    print(
                        f"rate {rate:g}/s: median {median:.2f}/s "
                        f"({(median - rate) / rate * 100:+.2f}%; runs "
                        f"{', '.join(f'{m:.2f}' for m in measured)}); serve CPU "
                        f"{statistics.median(r.cpu_ms_per_sms for r in runs):.2f} ms per SMS; "
                        f"RSS peak {max(r.hwm for r in runs):.0f} MiB; load average "
                        f"{'; '.join(r.load for r in runs)}"
                    )
            if "holder" in parts:
                for run in range(args.runs):
                    lat = await bench_holder(bench, reg, run, args.holder_rate)
                    print(
                        f"holder's code during a campaign at {args.holder_rate:g}/s: median "
                        f"{statistics.median(lat) * 1000:.0f} ms, worst {max(lat) * 1000:.0f} ms"
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
