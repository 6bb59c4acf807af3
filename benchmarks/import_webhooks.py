"""Webhook latency while a registry import runs on the same SQLite file.

    .venv/bin/python benchmarks/import_webhooks.py               # 100,000 rows, 50 SMS/s
    .venv/bin/python benchmarks/import_webhooks.py --code-root /work/main   # another checkout

What it does, all on this machine:

1. Writes a registry of ``--rows`` rows (``import_bench.write_registry``) and migrates a
   fresh SQLite database.
2. Starts ``portpass serve`` on that database in its own process, as in production.
3. Texts it over HTTP, as Twilio does (signed ``POST /sms/inbound``, each from its own
   number, body 說明 = HELP: a conversation turn, i.e. a write transaction), at
   ``--rate`` messages a second, open loop: first for ``--baseline`` seconds alone, then
   while ``portpass import`` (the admin's command, another process) imports the file
   into the same database, until it is done.
4. Prints p50 / p99 / max latency and failures, alone and during the import. A failure
   is anything but HTTP 200 with the help text (a database error answers "please try
   again later"), or no answer within 30 s.

``--code-root`` runs the server and the import from another checkout of the project (say,
one from before a change), with this script's load generator, for side-by-side numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.import_bench import write_registry  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

PUBLIC = "https://pp.example.tw"
TOKEN = "bench-twilio-auth-token"
SECRET = "bench-secret-key-" + "x" * 32
HELP_TEXT = "港區通行證手機驗證："  # the start of the help reply (core/messages.py conv.help)


@dataclass
class Phase:
    """Latencies (seconds) and failures of the messages sent in one phase."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # when each answered SMS left

    def timeline(self, start: float, step: float) -> str:
        """Max latency per ``step`` seconds since ``start``: where the slow ones were."""
        slots: dict[int, float] = {}
        for sent, latency in zip(self.sent_at, self.latencies, strict=True):
            slot = int((sent - start) // step)
            slots[slot] = max(slots.get(slot, 0.0), latency)
        return ", ".join(f"{slot * step:.0f}s: {slots[slot] * 1000:.0f}" for slot in sorted(slots))

    def summary(self) -> str:
        done = sorted(self.latencies)
        if not done:
            return f"no answers, {len(self.failures)} failures"

        def at(q: float) -> float:
            return done[min(len(done) - 1, int(q * len(done)))] * 1000

        return (
            f"{len(done) + len(self.failures)} SMS: p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, "
            f"max {done[-1] * 1000:.1f} ms, {len(self.failures)} failures"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Texter:
    """Signed inbound SMS, each from a new number (so no conversation is shared)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.validator = RequestValidator(TOKEN)
        self.sent = 0

    async def text(self, phase: Phase) -> None:
        self.sent += 1
        params = {
            "MessageSid": f"SM{self.sent:032x}",
            "From": f"+8869{20000000 + self.sent:08d}",
            "To": "+15005550006",
            "Body": "說明",
        }
        signature = self.validator.compute_signature(f"{PUBLIC}/sms/inbound", params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        started = time.perf_counter()
        try:
            async with self.session.post(
                self.url, data=urlencode(params).encode(), headers=headers
            ) as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            phase.failures.append(type(error).__name__)
            return
        if response.status != 200 or HELP_TEXT not in body:
            phase.failures.append(f"HTTP {response.status}: {body[:80]!r}")
            return
        phase.latencies.append(time.perf_counter() - started)
        phase.sent_at.append(started)


async def paced(texter: Texter, rate: float, phase: Phase, until: asyncio.Future[None]) -> None:
    """Open loop: message i leaves at i/rate whatever happened to the earlier ones."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    i = 0
    while not until.done():
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(until), delay)
            continue
        tasks.append(asyncio.ensure_future(texter.text(phase)))
        i += 1
    await asyncio.gather(*tasks)


async def wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            if process.returncode is not None:
                raise SystemExit(f"server exited with {process.returncode}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit(f"server at {url} did not start")


async def run(args: argparse.Namespace) -> None:
    code_root = args.code_root
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db, csv_path = work / "bench.db", work / "registry.csv"
        print(f"writing {args.rows:,} rows...", flush=True)
        write_registry(csv_path, args.rows)
        await upgrade(f"sqlite:///{db}")
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(code_root),
            "PORTPASS_DATABASE_URL": f"sqlite:///{db}",
            "PORTPASS_SERVER_PUBLIC_BASE_URL": PUBLIC,
            "PORTPASS_SECURITY_SECRET_KEY": SECRET,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "PORTPASS_LOGGING_LEVEL": "WARNING",
        }
        cli = [sys.executable, "-m", "bot.cli"]
        server = await asyncio.create_subprocess_exec(
            *cli,
            "serve",
            "--port",
            str(port),
            env=env,
            cwd=code_root,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await wait_ready(f"http://127.0.0.1:{port}/healthz", server)
            timeout = aiohttp.ClientTimeout(total=30)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
                texter = Texter(session, f"http://127.0.0.1:{port}/sms/inbound")
                alone, during = Phase(), Phase()
                loop = asyncio.get_running_loop()
                baseline_done = loop.create_future()
                loop.call_later(args.baseline, baseline_done.set_result, None)
                await paced(texter, args.rate, alone, baseline_done)
                print(f"alone:         {alone.summary()}", flush=True)

                import_done = loop.create_future()
                started = time.perf_counter()
                importer = await asyncio.create_subprocess_exec(
                    *cli,
                    "import",
                    str(csv_path),
                    env=env,
                    cwd=code_root,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )

                async def wait_import() -> tuple[bytes, bytes]:
                    try:
                        return await importer.communicate()
                    finally:
                        import_done.set_result(None)

                waiting = asyncio.ensure_future(wait_import())
                await paced(texter, args.rate, during, import_done)
                out, err = await waiting
                seconds = time.perf_counter() - started
                print(f"during import: {during.summary()}", flush=True)
                if args.timeline:
                    print(f"max ms by time: {during.timeline(started, args.timeline)}")
                summary = out.decode().strip().replace("\n", "; ")
                print(f"import: {seconds:.2f} s, exit {importer.returncode}: {summary}")
                if importer.returncode != 0:
                    print(err.decode(), file=sys.stderr)
                for reason in sorted(set(during.failures))[:5]:
                    print(f"  failure: {reason} (x{during.failures.count(reason)})")
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50.0, help="SMS per second")
    parser.add_argument("--baseline", type=float, default=3.0, help="seconds without import")
    parser.add_argument(
        "--timeline", type=float, metavar="S", help="print the max latency every S seconds"
    )
    parser.add_argument("--code-root", default=str(ROOT), help="checkout to serve and import")
    args = parser.parse_args()
    args.code_root = Path(args.code_root).resolve()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
