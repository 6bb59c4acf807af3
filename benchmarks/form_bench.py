"""The web form's two busy steps at a steady rate, and the SMS webhooks beside them.

Run on purpose, not as a test: ``.venv/bin/python benchmarks/form_bench.py``.

``portpass serve --demo`` (console sender: its ``/dev/inbox.json`` gives the codes) on a
SQLite registry of ``--holders`` holders, behind a trusted proxy (this process), so each
holder comes from an address of their own, as they would. Every holder first opens the
form and submits pass, ID and phone (not timed). Then, open loop, at ``--rate`` each:

1. the request step, ``POST /verify/confirm`` (R1 lookup, R2 check, request, SMS queued,
   audit, session saved: one transaction), one holder after another;
2. the code step, ``POST /verify/code`` with the code from the SMS (the pass verified);

while signed SMS webhooks (``說明``, a conversation turn) arrive at ``--rate`` too. The
webhooks are measured alone first, so their p99 alone and beside the form are side by
side in one run. Afterwards every holder's pass must be verified.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.import_webhooks import Phase, Texter, paced, wait_ready  # noqa: E402
from benchmarks.verify_bench import bench_config, bench_env, free_port, phone_of  # noqa: E402
from bot.bootstrap import database_for, services_for  # noqa: E402
from storage.registry.importer import import_registry  # noqa: E402
from storage.tables import passes  # noqa: E402

_TAG = re.compile(r'name="tag" value="([0-9a-f]+)"')
_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def address_of(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


async def prepare(db: Path, holders: int) -> None:
    csv_path = db.with_suffix(".csv")
    with csv_path.open("w", encoding="utf-8") as f:
        f.write("pass_no,id_no,name,phone,valid_from,valid_to,company\n")
        for n in range(holders):
            f.write(
                f"KHPS113-{n:06d},BENCH{n:06d},holder{n},0{phone_of(n)[4:]},"
                "2026/01/01,2030/12/31,bench\n"
            )
    async with services_for(bench_config(db)) as services:
        await import_registry(services.engine, csv_path)


class Holder:
    """One browser: its address, its session cookie, the tag of its last page."""

    def __init__(self, n: int, base: str) -> None:
        self.n, self.base = n, base
        self.headers = {"X-Forwarded-For": address_of(n)}
        self.tag = ""

    async def call(
        self, session: aiohttp.ClientSession, method: str, path: str, data: dict[str, str]
    ) -> int:
        async with session.request(
            method,
            self.base + path,
            data=data or None,
            headers=self.headers,
            allow_redirects=False,
        ) as response:
            body = await response.text()
            if "pp_form" in response.cookies:
                self.headers["Cookie"] = f"pp_form={response.cookies['pp_form'].value}"
            if match := _TAG.search(body):
                self.tag = match.group(1)
            return response.status

    async def fill(self, session: aiohttp.ClientSession) -> None:
        await self.call(session, "GET", "/verify", {})
        details = {
            "tag": self.tag,
            "pass_no": f"KHPS113-{self.n:06d}",
            "id_no": f"BENCH{self.n:06d}",
            "phone": "0" + phone_of(self.n)[4:],
        }
        assert await self.call(session, "POST", "/verify", details) == 303


async def open_loop(rate: float, count: int, step: Callable[[int], Awaitable[None]]) -> float:
    start = time.perf_counter()

    async def one(i: int) -> None:
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await step(i)

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - start


async def timed_step(
    session: aiohttp.ClientSession, holder: Holder, path: str, data: dict[str, str], phase: Phase
) -> None:
    started = time.perf_counter()
    status = await holder.call(session, "POST", path, {"tag": holder.tag, **data})
    if status != 303:
        phase.failures.append(f"{path}: HTTP {status}")
        return
    phase.latencies.append(time.perf_counter() - started)
    phase.sent_at.append(started)


async def collect_codes(
    session: aiohttp.ClientSession, base: str, codes: dict[str, str], done: asyncio.Event
) -> None:
    """The demo inbox keeps the last 50 SMS: read it as they come."""
    after = 0
    while not done.is_set() or after == 0:
        async with session.get(f"{base}/dev/inbox.json", params={"after": str(after)}) as r:
            for sms in await r.json():
                after = max(after, sms["id"])
                if match := _CODE.search(sms["body"].split("驗證碼", 1)[-1]):
                    codes[sms["to"]] = match.group(1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.2)


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        count = int(args.rate * args.seconds)
        print(f"preparing {count} holders...", flush=True)
        await prepare(db, count)
        port = free_port()
        env = {
            **bench_env(db),
            "PORTPASS_SERVER_TRUSTED_PROXIES": "127.0.0.1",
            "PORTPASS_SERVER_EVENT_LOOP": "asyncio",
            # SMS leave at the configured pace (default sms.max_per_second, 10/s, as a
            # provider account allows), beside the requests; the code step waits for
            # every code. --sms-per-second 200 sends them as fast as they are asked for.
            "PORTPASS_SMS_MAX_PER_SECOND": str(args.sms_per_second),
            "PATH": "/usr/bin:/bin",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--demo",
            "--port",
            str(port),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(f"{base}/healthz", server)
            await measure(args, base, count, server.pid)
        finally:
            server.terminate()
            await server.wait()
        query = select(func.count()).where(passes.c.verified_phone.is_not(None))
        async with database_for(bench_config(db)) as database, database.engine.connect() as conn:
            verified = (await conn.execute(query)).scalar_one()
    print(f"checked: {verified} of {count} passes verified through the form")
    if verified != count:
        raise SystemExit("not every holder verified")


def cpu_seconds(pid: int) -> float:
    """The server's user + system CPU so far: what a phase cost it, however busy the
    machine (latency on a shared machine says as much about the neighbours)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(args: argparse.Namespace, base: str, count: int, pid: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        holders = [Holder(n, base) for n in range(count)]
        for start in range(0, count, 25):
            await asyncio.gather(*(h.fill(session) for h in holders[start : start + 25]))
        texter = Texter(session, f"{base}/sms/inbound")

        async def webhooks(phase: Phase, seconds: float) -> None:
            until: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_later(seconds, until.set_result, None)
            await paced(texter, args.rate, phase, until)

        alone = Phase()
        cpu = cpu_seconds(pid)
        await webhooks(alone, args.seconds)
        cpu_alone = cpu_seconds(pid) - cpu
        requests, codes_step = Phase(), Phase()
        beside_requests, beside_codes = Phase(), Phase()
        codes: dict[str, str] = {}
        done = asyncio.Event()
        collector = asyncio.ensure_future(collect_codes(session, base, codes, done))

        async def request(i: int) -> None:
            confirm = {"action": "confirm"}
            await timed_step(session, holders[i], "/verify/confirm", confirm, requests)

        cpu = cpu_seconds(pid)
        await asyncio.gather(
            open_loop(args.rate, count, request), webhooks(beside_requests, args.seconds)
        )
        cpu_request = cpu_seconds(pid) - cpu  # the SMS the worker sent meanwhile included
        for _ in range(int(10 * (5 + count / args.sms_per_second))):
            if len(codes) >= count:
                break
            await asyncio.sleep(0.1)
        done.set()
        await collector

        async def code(i: int) -> None:
            typed = {"code": codes.get(phone_of(i), "")}
            await timed_step(session, holders[i], "/verify/code", typed, codes_step)

        cpu = cpu_seconds(pid)
        await asyncio.gather(
            open_loop(args.rate, count, code), webhooks(beside_codes, args.seconds)
        )
        cpu_code = cpu_seconds(pid) - cpu
    print(f"load average: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"webhooks alone         : {alone.summary()}")
    print(f"request step (confirm) : {requests.summary()}")
    print(f"  webhooks beside it   : {beside_requests.summary()}")
    print(f"code step              : {codes_step.summary()}")
    print(f"  webhooks beside it   : {beside_codes.summary()}")
    for name, phase in (("request", requests), ("code", codes_step)):
        if phase.failures:
            print(f"  {name} step failures: {sorted(set(phase.failures))}")
    webhook_ms = cpu_alone / max(1, len(alone.latencies)) * 1000
    print(
        f"server CPU per item: webhook {webhook_ms:.2f} ms; request step "
        f"{(cpu_request / count) * 1000 - webhook_ms:.2f} ms (with the SMS sent meanwhile); "
        f"code step {(cpu_code / count) * 1000 - webhook_ms:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s of each stream")
    parser.add_argument("--seconds", type=float, default=10.0, help="per timed phase")
    parser.add_argument(
        "--sms-per-second", type=float, default=10.0, help="sms.max_per_second of the server"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
