"""``portpass check-config --probe``: one bind to the SMSC with the configured account,
reported; a wrong password or an unreachable host exits 1 saying which."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from bot.cli.main import main
from fakes.smsc import FakeSmsc
from tests.unit.test_check_config import clean_env  # noqa: F401 - a fixture

KEY = "probe-secret-key-" + "x" * 32


@pytest.fixture
def smsc_thread() -> Iterator[FakeSmsc]:
    """The fake SMSC on a loop of its own: ``main`` runs its own loop in this thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, FakeSmsc] = {}
    stop = asyncio.Event()

    async def serve() -> None:
        async with FakeSmsc() as smsc:
            holder["smsc"] = smsc
            loop.call_soon(ready.set)
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    assert ready.wait(5)
    yield holder["smsc"]
    loop.call_soon_threadsafe(stop.set)
    thread.join(5)
    loop.close()


def smpp_env(env: pytest.MonkeyPatch, port: int, password: str) -> None:
    env.setenv("PORTPASS_DATABASE_URL", "sqlite:///pp.db")
    env.setenv("PORTPASS_SECURITY_SECRET_KEY", KEY)
    env.setenv("PORTPASS_SMS_SENDER", "smpp")
    env.setenv("PORTPASS_SMPP_HOST", "127.0.0.1")
    env.setenv("PORTPASS_SMPP_PORT", str(port))
    env.setenv("PORTPASS_SMPP_SYSTEM_ID", "portpass")
    env.setenv("PORTPASS_SMPP_PASSWORD", password)
    env.setenv("PORTPASS_SMPP_SOURCE_ADDR", "PortPass")
    env.setenv("PORTPASS_SMPP_RESPONSE_TIMEOUT_SECONDS", "2")


def test_the_probe_binds_once_and_unbinds(clean_env, smsc_thread, capsys):  # noqa: F811
    smpp_env(clean_env, smsc_thread.port, smsc_thread.password)
    assert main(["check-config", "--probe"]) == 0
    out = capsys.readouterr().out
    assert "SMPP probe: ok: bound to 127.0.0.1:" in out
    assert "SMS replies reach the bot" in out  # sms.receives_replies = auto: yes for smpp
    assert smsc_thread.password not in out
    assert smsc_thread.binds == ["transceiver"]
    assert smsc_thread.unbinds == 1
    assert smsc_thread.submitted == []  # nothing sent


def test_a_wrong_password_fails_the_probe_saying_so(clean_env, smsc_thread, capsys):  # noqa: F811
    smpp_env(clean_env, smsc_thread.port, "wrong123")
    assert main(["check-config", "--probe"]) == 1
    out = capsys.readouterr().out
    assert "SMPP probe: FAILED:" in out
    assert "wrong password" in out
    assert "wrong123" not in out


def test_an_unreachable_smsc_fails_the_probe(clean_env, capsys):  # noqa: F811
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    smpp_env(clean_env, port, "secret12")
    assert main(["check-config", "--probe"]) == 1
    assert "could not reach 127.0.0.1" in capsys.readouterr().out
