"""Outbox latency: from the commit of a verification request to Twilio receiving it.

    .venv/bin/python benchmarks/outbox_latency.py                # 200 requests, SQLite
    .venv/bin/python benchmarks/outbox_latency.py --requests 500 \\
        --postgres-url postgresql://postgres@127.0.0.1:5432/test

The app starts as ``portpass serve`` builds it (``create_app``, its outbox worker in
``cleanup_ctx``) on a fresh temporary database, with the ``twilio`` sender pointed at
FakeTwilio on localhost. One holder owns N passes; the benchmark asks for a code for
each pass in turn (``VerificationService.request_as_holder``: the R1/R2 checks, the
request, the outbox row and the audit entry in one commit), and waits until FakeTwilio
has the message before asking for the next, so each number is one SMS's own latency,
not a queue's. The clock starts when the unit of work's commit returns (an outbox
listener of our own notes the time, next to the worker's wake-up) and stops when
FakeTwilio's handler receives the POST. Target: under 200 ms.

The token bucket is set high (``sms.max_per_second``) so that pacing, which is
deliberate, does not hide the wake-up latency being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.scratch import scratch_database_url  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.services import SERVICES  # noqa: E402
from core.model import Channel, Requester  # noqa: E402
from core.values import IdNumber, PassNumber, Phone  # noqa: E402
from fakes.twilio_api import FakeTwilio  # noqa: E402
from storage.registry.importer import import_registry  # noqa: E402

HOLDER_ID, HOLDER_PHONE = "QQ12345671", "0960123411"


class TimedFakeTwilio(FakeTwilio):
    """FakeTwilio that notes when each message request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []
        self.arrived = asyncio.Event()

    async def _create_message(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.perf_counter())
        self.arrived.set()
        return await super()._create_message(request)


def write_registry(path: Path, passes: int) -> list[str]:
    numbers = [f"KHPS113-{100000 + n:06d}" for n in range(passes)]
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow(["pass_no", "id_no", "name", "phone", "valid_from", "valid_to", "company"])
        for number in numbers:
            out.writerow(
                [number, HOLDER_ID, "測試員", HOLDER_PHONE, "2020/01/01", "2099/12/31", "基準"]
            )
    return numbers


async def run(requests: int, postgres_url: str | None, workdir: Path) -> list[float]:
    async with scratch_database_url(workdir, postgres_url) as database:
        return await measure(requests, database, workdir)


async def measure(requests: int, database: str, workdir: Path) -> list[float]:
    fake = await TimedFakeTwilio().start()
    env = {
        "PORTPASS_DATABASE_URL": database,
        "PORTPASS_SERVER_PUBLIC_BASE_URL": "https://pp.example.tw",
        "PORTPASS_SECURITY_SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_SMS_MAX_PER_SECOND": "10000",
        "PORTPASS_TWILIO_ACCOUNT_SID": fake.account_sid,
        "PORTPASS_TWILIO_AUTH_TOKEN": fake.auth_token,
        "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
        "PORTPASS_TWILIO_API_BASE_URL": fake.url,
        "PORTPASS_LOGGING_LEVEL": "WARNING",
    }
    config = load_config(None, env, cwd=workdir)
    runner = web.AppRunner(create_app(config))
    await runner.setup()  # runs cleanup_ctx: database, services, the outbox worker
    latencies: list[float] = []
    try:
        services = runner.app[SERVICES]
        numbers = write_registry(workdir / "registry.csv", requests)
        report = await import_registry(services.engine, workdir / "registry.csv")
        assert report.ok and report.committed, report.errors
        commits: list[float] = []
        services.uow.add_outbox_listener(lambda: commits.append(time.perf_counter()))
        requester = Requester(key="bench", channel=Channel.SMS, actor="bench")
        id_no, phone = IdNumber.parse(HOLDER_ID), Phone.parse(HOLDER_PHONE)
        for number in numbers:
            fake.arrived.clear()
            await services.verification.request_as_holder(
                requester, PassNumber.parse(number), id_no, phone
            )
            await asyncio.wait_for(fake.arrived.wait(), 10)
            latencies.append((fake.arrivals[-1] - commits[-1]) * 1000)
        assert len(fake.messages) == requests
    finally:
        await runner.cleanup()
        await fake.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres-url", help="run on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        latencies = asyncio.run(run(args.requests, args.postgres_url, Path(tmp)))
    backend = "postgresql" if args.postgres_url else "sqlite"
    print(
        f"outbox latency, commit -> provider request ({backend}): "
        f"count={len(latencies)} "
        f"median={statistics.median(latencies):.1f}ms "
        f"p99={percentile(latencies, 0.99):.1f}ms "
        f"max={max(latencies):.1f}ms "
        f"(target: under 200ms)"
    )


if __name__ == "__main__":
    main()
