"""``portpass serve --workers N``: N server processes sharing one listening socket.

Why this design, and not gunicorn's ``aiohttp.GunicornWebWorker``: it adds no
dependency and no second way to configure the server; ``portpass serve`` stays the one
command the systemd unit, the README and the tests run, and every process is built by
the same composition root with the same config file. What gunicorn would add
(reloading code on SIGHUP, changing the number of workers while running) a deployment
of this bot does not need: a restart is a second (systemd restarts the whole unit).

How: the parent binds the address once (so a port already in use fails once, in the
parent, with one line) and starts N children (``python -m bot.cli serve --listen-fd``),
which inherit the listening socket and all accept on it; the kernel hands each new
connection to one of them. The parent only supervises:

- SIGTERM or SIGINT: passed on to every worker, which finishes its requests and stops
  (as ``portpass serve`` alone does); a worker still running after
  :data:`STOP_SECONDS` is killed;
- a worker that exits within :data:`START_SECONDS` of its start failed to start (a
  configuration or database problem every worker would meet): the others are stopped
  and serve exits with its code;
- a worker that dies later is started again, one second later;
- the parent killed outright (SIGKILL, nothing passed on): each worker notices within a
  second and stops (:func:`bot.server.stop_when_orphaned`).

Metrics: the workers count into files in one directory (``PROMETHEUS_MULTIPROC_DIR``,
a fresh temporary one unless the environment names one), so a scrape of ``/metrics``
reaching any worker shows the totals of all of them (:mod:`bot.metrics.registry`).

Several processes need a database they can all write at once: PostgreSQL. SQLite is
refused (:func:`refusal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.multiprocess import mark_process_dead

from bot.config import Config
from bot.metrics.registry import MULTIPROCESS_ENV

log = logging.getLogger(__name__)

#: A worker that exits sooner than this after its start did not start.
START_SECONDS = 10.0
#: How long a worker may take to stop after SIGTERM before it is killed.
STOP_SECONDS = 30.0


def refusal(config: Config, workers: int, *, demo: bool = False) -> str | None:
    """Why ``--workers`` cannot run with this config (one line), or ``None``."""
    if workers < 1:
        return f"--workers must be at least 1, not {workers}"
    if workers == 1:
        return None
    if config.database.url.startswith("sqlite"):
        return (
            f"--workers {workers} needs PostgreSQL (database.url); SQLite is served by "
            "one process: run serve without --workers"
        )
    if demo:
        return "--demo runs one process: run it without --workers"
    return None


def listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts on, inheritable by the children."""
    sock = socket.create_server((host, port), backlog=1024)
    sock.set_inheritable(True)
    return sock


def worker_command(config_path: str | None, fd: int, index: int, count: int) -> list[str]:
    config = ["--config", config_path] if config_path else []
    return [
        sys.executable, "-m", "bot.cli", *config,
        "serve", "--listen-fd", str(fd), "--worker", f"{index}/{count}",
    ]  # fmt: skip


@contextlib.contextmanager
def metrics_directory() -> Iterator[str]:
    """Where the workers keep their counters: ``PROMETHEUS_MULTIPROC_DIR`` if set (its old
    files removed, as the library asks, so a restart starts at zero), else a temporary
    directory removed afterwards."""
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for old in Path(given).glob("*.db"):
            old.unlink()
        yield given
        return
    made = tempfile.mkdtemp(prefix="portpass-metrics-")
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


async def supervise(config_path: str | None, host: str, port: int, workers: int) -> int:
    """Run ``workers`` server processes on ``host:port`` until SIGTERM or SIGINT."""
    with metrics_directory() as metrics:
        return await _supervise(config_path, host, port, workers, metrics)


async def _supervise(
    config_path: str | None, host: str, port: int, workers: int, metrics: str
) -> int:
    sock = listen(host, port)
    fd = sock.fileno()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def start(index: int) -> tuple[asyncio.subprocess.Process, float]:
        command = worker_command(config_path, fd, index, workers)
        env = {**os.environ, MULTIPROCESS_ENV: metrics}
        process = await asyncio.create_subprocess_exec(*command, pass_fds=(fd,), env=env)
        return process, time.monotonic()

    running = {i: await start(i) for i in range(workers)}
    print(f"PortPass Verify listening on http://{host}:{port} ({workers} workers)", flush=True)
    code = 0
    try:
        stopping = asyncio.create_task(stop.wait())
        while True:
            waits = {asyncio.create_task(p.wait()): i for i, (p, _) in running.items()}
            done, _ = await asyncio.wait({stopping, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()
            if stopping in done:
                return code
            for task in done:
                index = waits[task]
                process, started = running[index]
                exit_code = process.returncode
                if time.monotonic() - started < START_SECONDS:
                    log.error("worker %d exited with code %s while starting", index, exit_code)
                    code = exit_code or 1
                    return code
                log.warning("worker %d exited with code %s: starting it again", index, exit_code)
                mark_process_dead(process.pid, metrics)  # type: ignore[no-untyped-call]
                await asyncio.sleep(1.0)
                running[index] = await start(index)
    finally:
        await _stop_all([p for p, _ in running.values()])
        sock.close()


async def _stop_all(processes: list[asyncio.subprocess.Process]) -> None:
    for process in processes:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_SECONDS):
            await asyncio.gather(*(p.wait() for p in processes))
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                log.warning("worker pid %d did not stop in %s s: killed", process.pid, STOP_SECONDS)
                process.kill()
        await asyncio.gather(*(p.wait() for p in processes))
