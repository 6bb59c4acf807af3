"""``portpass chat`` against ``portpass serve --demo`` on a port other than 8080: the
chat used to sign for port 8080 whatever the server ran on, and the refusal blamed the
key. It signs for the URL it posts to, which a server whose public base URL is left at
its default checks, and a refusal names the URL signed."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli.chat import ChatError, run_chat, target_from
from bot.config import Config, load_config
from bot.server import run_server
from tests.e2e.cli.test_chat_cli import fast, scripted


def demo_config(tmp_path: Path, port: int, **extra: str) -> Config:
    env = {
        "PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'portpass.db'}",
        "PORTPASS_SERVER_PORT": str(port),
        **extra,
    }
    return load_config(None, env, cwd=tmp_path)


async def serving(config: Config, *, port: int | None = None) -> asyncio.Task[None]:
    """``portpass serve --demo [--port]`` in this loop, once it answers."""
    task = asyncio.create_task(run_server(config, port=port, demo=True))
    for _ in range(200):
        await asyncio.sleep(0.05)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port or config.server.port)
        except OSError:
            continue
        writer.close()
        return task
    raise AssertionError("the server did not start")


@pytest.fixture
async def stop() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_chat_follows_portpass_server_port(
    tmp_path: Path, unused_tcp_port: int, stop: list[asyncio.Task[None]]
) -> None:
    config = demo_config(tmp_path, unused_tcp_port)
    stop.append(await serving(config))
    out = io.StringIO()
    await run_chat(fast(target_from(config, "0960123411", None)), scripted("驗證"), out)
    assert "< 請輸入通行證號" in out.getvalue()


async def test_chat_with_url_follows_serve_port(
    tmp_path: Path, unused_tcp_port_factory: object, stop: list[asyncio.Task[None]]
) -> None:
    port = unused_tcp_port_factory()  # type: ignore[operator]
    config = demo_config(tmp_path, 8080)  # serve --port overrides the configured port
    stop.append(await serving(config, port=port))
    out = io.StringIO()
    url = f"http://127.0.0.1:{port}"
    await run_chat(fast(target_from(config, "0960123411", url)), scripted("驗證"), out)
    assert "< 請輸入通行證號" in out.getvalue()


async def test_a_refused_signature_names_the_url_signed(
    tmp_path: Path, unused_tcp_port: int, stop: list[asyncio.Task[None]]
) -> None:
    config = demo_config(tmp_path, unused_tcp_port)
    stop.append(await serving(config))
    # The server's public URL is its own address; a chat that says it is elsewhere
    # signs for that, and is told so.
    other = demo_config(
        tmp_path, unused_tcp_port, PORTPASS_SERVER_PUBLIC_BASE_URL="https://pp.example.tw"
    )
    target = fast(target_from(other, "0960123411", f"http://127.0.0.1:{unused_tcp_port}"))
    with pytest.raises(ChatError) as refused:
        await run_chat(target, scripted("驗證"), io.StringIO())
    message = str(refused.value)
    assert "refused the signature for https://pp.example.tw/sms/inbound" in message
    assert "server.public_base_url" in message
