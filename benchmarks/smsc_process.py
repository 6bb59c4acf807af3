"""The fake SMSC (:mod:`fakes.smsc`) in a process of its own, for the campaign benchmark
and for trying ``sms.sender = "smpp"`` by hand::

    .venv/bin/python -m benchmarks.smsc_process --port 2775 [--arrivals FILE] [--control]

``--arrivals`` appends ``<perf_counter> <to> <code or ->`` for each ``submit_sm`` taken
(``code``: a verification SMS; Linux's
``perf_counter`` is CLOCK_MONOTONIC, the same clock in every process). ``--control``
reads ``mo <phone> <text>`` lines on stdin, delivers each as a holder's message and
prints ``mo <status>`` when our side answered it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fakes.smsc import FakeSmsc, Submitted  # noqa: E402


async def _control(smsc: FakeSmsc) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode():
        command, _, rest = line.strip().partition(" ")
        if command == "mo":
            phone, _, text = rest.partition(" ")
            statuses = await smsc.send_mo(phone, text)
            print(f"mo {','.join(str(s) for s in statuses)}", flush=True)


async def serve(port: int, arrivals: Path | None, control: bool) -> None:
    log: TextIO | None = arrivals.open("a", buffering=1, encoding="ascii") if arrivals else None

    def note(item: Submitted) -> None:
        if log is not None:
            kind = "code" if "末四碼" in item.text or "ending" in item.text else "-"
            log.write(f"{time.perf_counter():.6f} +{item.to} {kind}\n")

    async with FakeSmsc(port=port, on_submit=note) as smsc:
        print(f"fake SMSC on 127.0.0.1:{smsc.port}", flush=True)
        if control:
            await _control(smsc)
        else:
            await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=2775)
    parser.add_argument("--arrivals", type=Path)
    parser.add_argument("--control", action="store_true")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.arrivals, args.control))


if __name__ == "__main__":
    main()
