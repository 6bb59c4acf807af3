"""``server.event_loop``: ``portpass serve`` on uvloop when asked (or when installed, by
default), on asyncio's own loop when told so, and one clear line when uvloop is asked
for but missing. Each server is a real process answering real HTTP."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

PYTHON = (sys.executable, "-m", "bot.cli")
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(tmp_path: Path, loop: str, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'loop.db'}",
        "PORTPASS_LOGGING_LEVEL": "INFO",
        "PORTPASS_SERVER_EVENT_LOOP": loop,
        "PYTHONPATH": os.pathsep.join(p for p in (more.pop("pythonpath", ""), str(ROOT)) if p),
        **more,
    }


async def serve_and_stop(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Start ``portpass serve``, wait for /healthz, stop it: (health status, stderr)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *PYTHON, "serve", "--port", str(port), env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    status = 0
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        status = response.status
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
    finally:
        process.terminate()
        _, err = await process.communicate()
    return status, err.decode()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_serve_runs_on_the_loop_configured(tmp_path: Path, loop: str) -> None:
    status, log = await serve_and_stop(environment(tmp_path, loop), tmp_path)
    assert status == 200
    assert f"event loop: {loop}" in log


async def test_auto_takes_uvloop_when_it_is_installed(tmp_path: Path) -> None:
    status, log = await serve_and_stop(environment(tmp_path, "auto"), tmp_path)
    assert status == 200
    assert "event loop: uvloop" in log


async def test_without_uvloop_auto_runs_on_asyncio_and_uvloop_is_one_clear_line(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no_uvloop"
    missing.mkdir()
    (missing / "uvloop.py").write_text("raise ImportError('not installed here')\n")

    status, log = await serve_and_stop(
        environment(tmp_path, "auto", pythonpath=str(missing)), tmp_path
    )
    assert status == 200
    assert "event loop: asyncio" in log

    process = await asyncio.create_subprocess_exec(
        *PYTHON, "serve", "--port", str(free_port()),
        env=environment(tmp_path, "uvloop", pythonpath=str(missing)), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.decode().strip().splitlines()[-1] == (
        "portpass: server.event_loop is 'uvloop' but uvloop is not installed: "
        "pip install 'portpass-verify[speed]', or set it to 'auto'"
    )
