"""``portpass chat`` against a live server: the app on a real port in this process,
the chat loop driven by a script that reads what the chat prints (the verification SMS
from the demo inbox included) and answers as a holder would."""

from __future__ import annotations

import asyncio
import io
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli.chat import ChatError, ChatTarget, run_chat, signed_form, target_from
from bot.cli.main import main
from bot.config import Config, load_config
from core.model import Status
from core.status import status_of
from core.values import PassNumber
from tests.e2e.conftest import PUBLIC_BASE_URL, AppClient, services_of

CODE_SMS = re.compile(
    r"\[SMS to 0960-123-411\] 【港務】港區通行證手機驗證：通行證末四碼(\d{4})，驗證碼(\d{6})"
)

Step = str | Callable[[], Awaitable[str]]


def server_url(client: AppClient) -> str:
    return str(client.server.make_url("/")).rstrip("/")


def scripted(*steps: Step) -> Callable[[], Awaitable[str | None]]:
    """A line reader: each step is a line, or a coroutine that works one out (e.g. by
    waiting for the code to be printed); then end of input."""
    queue = list(steps)

    async def read_line() -> str | None:
        if not queue:
            return None
        step = queue.pop(0)
        return step if isinstance(step, str) else await step()

    return read_line


def code_from(out: io.StringIO, last4: str) -> Callable[[], Awaitable[str]]:
    """Waits until the chat has printed the SMS for the pass ending ``last4``."""

    async def wait() -> str:
        for _ in range(100):
            for found_last4, code in CODE_SMS.findall(out.getvalue()):
                if found_last4 == last4:
                    return str(code)
            await asyncio.sleep(0.05)
        raise AssertionError(f"no SMS for pass …{last4} printed:\n{out.getvalue()}")

    return wait


def fast(target: ChatTarget) -> ChatTarget:
    return replace(target, poll_interval=0.05, settle=0.2)


async def test_chat_walks_to_verified(client: AppClient, config: Config) -> None:
    out = io.StringIO()
    target = fast(target_from(config, "0960-123-411", server_url(client)))
    await run_chat(
        target,
        scripted("驗證", "ＫＨＰＳ１１３－００００４３", "QQ12345673", "1", code_from(out, "0043")),
        out,
    )
    printed = out.getvalue()
    assert printed.startswith(f"Texting {server_url(client)} as 0960-123-411.")
    assert "< 請輸入通行證號（例：KHPS113-000043）。" in printed
    assert "< 確定要取得KHPS113-000043人員通行證的手機驗證碼??\n  回覆 1 確認，2 取消" in printed
    assert (
        "< 驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    ) in printed
    assert "https://pp.example.tw/v/" in printed  # the SMS, link included
    assert "< 手機驗證完成！通行證 KHPS113-000043 的手機 0960-123-411 已完成驗證。" in printed
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse("KHPS113-000043"))
    assert record is not None and status_of(record) is Status.VERIFIED


async def test_chat_signs_the_public_url_not_the_servers_address(config: Config) -> None:
    target = target_from(config, "0960123411", "http://127.0.0.1:1")
    assert target.signed_url == PUBLIC_BASE_URL + "/sms/inbound"
    form, _ = signed_form(target, "驗證")
    assert form["From"] == "+886960123411"
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34


async def test_chat_in_demo_mode_signs_with_the_derived_token(
    config_env: dict[str, str], tmp_path: Path, make_client: Callable[..., Awaitable[AppClient]]
) -> None:
    del config_env["TWILIO_AUTH_TOKEN"]
    config = load_config(None, config_env, cwd=tmp_path)
    client = await make_client(config, demo=True)
    out = io.StringIO()
    await run_chat(fast(target_from(config, "0960123411", server_url(client))), scripted("V"), out)
    assert "< 請輸入通行證號" in out.getvalue()


async def test_a_server_with_another_token_is_one_clear_line(
    client: AppClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    config_env["TWILIO_AUTH_TOKEN"] = "another-token"
    other = load_config(None, config_env, cwd=tmp_path)
    with pytest.raises(ChatError, match="refused the signature"):
        await run_chat(
            fast(target_from(other, "0960123411", server_url(client))), scripted("V"), io.StringIO()
        )


async def test_a_server_without_inbound_sms_says_so(
    config_env: dict[str, str], tmp_path: Path, make_client: Callable[..., Awaitable[AppClient]]
) -> None:
    del config_env["TWILIO_AUTH_TOKEN"]
    config = load_config(None, config_env, cwd=tmp_path)
    client = await make_client(config, demo=False)
    out = io.StringIO()
    with pytest.raises(ChatError, match="takes no inbound SMS"):
        await run_chat(
            fast(target_from(config, "0960123411", server_url(client))), scripted("V"), out
        )
    assert "no demo inbox" in out.getvalue()  # not a demo server: SMS cannot be shown


async def test_no_server_is_one_clear_line(config: Config, unused_tcp_port: int) -> None:
    target = target_from(config, "0960123411", f"http://127.0.0.1:{unused_tcp_port}")
    with pytest.raises(ChatError, match=r"^no server at http://127\.0\.0\.1:\d+: start one"):
        await run_chat(target, scripted("V"), io.StringIO())


async def test_a_foreign_number_can_try_and_gets_no_reply(
    client: AppClient, config: Config
) -> None:
    """SMS pumping: the server sends nothing to such a number."""
    out = io.StringIO()
    await run_chat(
        fast(target_from(config, "+1 650 253 0000", server_url(client))), scripted("V"), out
    )
    assert "< (no reply)" in out.getvalue()


def test_a_from_that_is_no_phone_is_refused(config: Config) -> None:
    with pytest.raises(ChatError, match="is not a mobile number"):
        target_from(config, "hello", None)


# --- the command itself ------------------------------------------------------------------


@pytest.fixture
def cli_env(
    config_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORTPASS_CONFIG", raising=False)
    for name, value in config_env.items():
        monkeypatch.setenv(name, value)
    return config_env


async def test_portpass_chat_reads_stdin_until_eof(
    client: AppClient,
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("驗證\nKHPS113-000040\n\nQQ12345671\n1\n"))
    argv = ["chat", "--from", "0960123411", "--url", server_url(client)]
    code = await asyncio.to_thread(main, argv)  # its own loop; ours serves the app
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "< 驗證碼已經成功送出。" in out
    assert re.search(CODE_SMS, out), out  # the SMS arrived after the input ended


async def test_portpass_chat_without_a_server(
    cli_env: dict[str, str],
    unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("驗證\n"))
    argv = ["chat", "--from", "0960123411", "--url", f"http://127.0.0.1:{unused_tcp_port}"]
    code = await asyncio.to_thread(main, argv)
    _, err = capsys.readouterr()
    assert code == 1
    assert err == (
        f"portpass chat: no server at http://127.0.0.1:{unused_tcp_port}: "
        "start one with portpass serve --demo\n"
    )
