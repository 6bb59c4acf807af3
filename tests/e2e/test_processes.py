"""Several ``portpass serve`` processes on one PostgreSQL database.

Two real processes, each on its own port, with FakeTwilio and FakeTelegram in the test
process: a holder's SMS turns and a Telegram chat's updates go to one process and the
next to the other. What the holder sees is what one process answers (the same words
the single-process tests pin), each code leaves as exactly one SMS although both
processes run an outbox worker, and the limits hold for the pair: the link page's
per-address limit and the failed-lookup cool-down count hits from both.

Also ``--workers 2``: refused with one line on SQLite; on PostgreSQL one port served by
two processes that register the webhook once and stop together on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from bot.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from bot.web.link_page import LINK_REQUESTS_PER_MINUTE
from core.model import OutgoingSms
from core.values import Phone
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds, callback_update, message_update
from fakes.twilio_api import FakeTwilio
from storage.db import create_engine
from storage.registry.importer import DEMO_REGISTRY
from storage.uow import SqlUnitOfWorkFactory
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_SID, TWILIO_TOKEN
from tests.e2e.processes import free_port, postgres_role
from tests.e2e.sms.test_sms_inbound import messages_in

PYTHON = [sys.executable, "-m", "bot.cli"]
WEBHOOK_SECRET = "processes_webhook-SECRET_0123"
HOLDER = "+886960123411"  # on several passes of the demo registry
STRANGER = "+886912345618"  # on file nowhere: each of its lookups fails
CHAT = 555_000_111

ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
ASK_ID = "請輸入身分證號（例：A123456789）。"
SENT = "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證（24小時內有效）。"
NOT_FOUND = "查無人員通行證或手機資料，無法取得驗證碼！"
COOLED = "查詢失敗次數過多"
_CODE = re.compile(r"驗證碼(\d{6})")

JSONDict = dict[str, Any]


@dataclass
class Server:
    url: str
    process: asyncio.subprocess.Process


@dataclass
class Deployment:
    """One database, the two fakes, and the environment every process runs with."""

    workdir: Path
    twilio: FakeTwilio
    telegram: FakeTelegram
    env: dict[str, str]
    session: aiohttp.ClientSession
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def cli(self, *argv: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            *PYTHON, *argv, env=self.env, cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        return int(process.returncode or 0), (out + err).decode()

    async def serve(self, *argv: str) -> Server:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *PYTHON, "serve", "--port", str(port), *argv, env=self.env, cwd=self.workdir,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        for _ in range(400):
            assert process.returncode is None, await _tail(process)
            with contextlib.suppress(aiohttp.ClientError):
                async with self.session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return Server(url, process)
            await asyncio.sleep(0.05)
        raise AssertionError("serve did not start")

    async def text(self, server: Server, sender: str, body: str) -> str:
        """An SMS from ``sender`` as Twilio posts it to ``server``: its TwiML answer."""
        form = {
            "MessageSid": f"SM{uuid.uuid4().hex}",
            "AccountSid": TWILIO_SID,
            "From": sender,
            "To": "+886900000000",
            "Body": body,
            "NumSegments": "1",
        }
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            PUBLIC_BASE_URL + "/sms/inbound", form
        )
        async with self.session.post(
            f"{server.url}/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        ) as response:
            assert response.status == 200, await response.text()
            return "\n".join(messages_in(await response.text()))

    async def update(self, server: Server, update: JSONDict) -> list[JSONDict]:
        """A Telegram update posted to ``server``'s webhook: what the bot sent back."""
        before = len(self.telegram.sent_messages(CHAT))
        async with self.session.post(
            f"{server.url}{WEBHOOK_PATH}", json=update, headers={SECRET_HEADER: WEBHOOK_SECRET}
        ) as response:
            assert response.status == 200, await response.text()
        return self.telegram.sent_messages(CHAT)[before:]

    def sms_to(self, phone: str) -> list[str]:
        return [m["body"] for m in self.twilio.messages if m["to"] == phone]


async def _stop(processes: list[asyncio.subprocess.Process]) -> None:
    """SIGTERM, as systemd stops serve (a --workers parent stops its workers), then
    SIGKILL for whatever is still running after 20 s."""
    for process in processes:
        if process.returncode is None:
            process.terminate()
    try:
        async with asyncio.timeout(20):
            await asyncio.gather(*(p.wait() for p in processes))
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*(p.wait() for p in processes))


async def _tail(process: asyncio.subprocess.Process) -> str:
    if process.returncode is None:
        process.kill()
        await process.wait()
    assert process.stderr is not None
    return (await process.stderr.read())[-3000:].decode(errors="replace")


@contextlib.asynccontextmanager
async def deployment_on(url: str, workdir: Path) -> AsyncIterator[Deployment]:
    async with contextlib.AsyncExitStack() as stack:
        twilio = await stack.enter_async_context(FakeTwilio(TWILIO_SID, TWILIO_TOKEN))
        telegram = await stack.enter_async_context(FakeTelegram())
        session = await stack.enter_async_context(aiohttp.ClientSession())
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PORTPASS_", "TWILIO_"))},
            "PORTPASS_DATABASE_URL": url,
            "PORTPASS_SECURITY_SECRET_KEY": "processes-secret-key-" + "x" * 32,
            "PORTPASS_SERVER_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "PORTPASS_SMS_SENDER": "twilio",
            "PORTPASS_SMS_MAX_PER_SECOND": "100",
            "PORTPASS_TWILIO_ACCOUNT_SID": TWILIO_SID,
            "PORTPASS_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
            "PORTPASS_TWILIO_API_BASE_URL": twilio.url,
            "PORTPASS_TELEGRAM_TOKEN": telegram.token,
            "PORTPASS_TELEGRAM_API_BASE_URL": telegram.base_url,
            "PORTPASS_TELEGRAM_MODE": "webhook",
            "PORTPASS_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PORTPASS_LOGGING_LEVEL": "WARNING",
        }
        deployment = Deployment(workdir, twilio, telegram, env, session)
        try:
            yield deployment
        finally:
            await _stop(deployment.processes)


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with postgres_role() as url, deployment_on(url, tmp_path) as deployment:
        code, out = await deployment.cli("import", str(DEMO_REGISTRY))
        assert code == 0, out
        yield deployment


@pytest.mark.postgres
async def test_two_processes_answer_as_one_send_once_and_share_the_limits(
    postgres: Deployment,
) -> None:
    d = postgres
    a, b = await asyncio.gather(d.serve(), d.serve())
    both = [a, b]

    # SMS: each turn to the other process; the answers one process gives.
    assert await d.text(a, HOLDER, "驗證") == ASK_PASS
    assert await d.text(b, HOLDER, "KHPS113-000043") == ASK_ID
    assert await d.text(a, HOLDER, "QQ12345673") == (
        "確定要取得KHPS113-000043人員通行證的手機驗證碼??\n回覆 1 確認，2 取消"
    )
    assert await d.text(b, HOLDER, "1") == SENT
    code = await one_code_for(d, HOLDER, count=1)
    assert await d.text(a, HOLDER, code) == (
        "手機驗證完成！通行證 KHPS113-000043 的手機 0960-123-411 已完成驗證。"
    )

    # Telegram: one chat's updates alternate between the processes.
    ids = UpdateIds()

    def said(text: str) -> JSONDict:
        return message_update(ids.next(), CHAT, text)

    [_welcome, ask_pass] = await d.update(b, said("/start"))
    assert ask_pass["text"] == ASK_PASS
    [ask_id] = await d.update(a, said("KHPS113-000040"))
    assert ask_id["text"] == ASK_ID
    [ask_phone] = await d.update(b, said("QQ12345671"))
    assert ask_phone["text"].startswith("請輸入通行證登錄的手機號碼")
    [question] = await d.update(a, said("0960123411"))
    assert question["text"] == "確定要取得KHPS113-000040人員通行證的手機驗證碼??"
    press = callback_update(
        ids.next(), CHAT, "c:confirm:KHPS113-000040", question["message_id"],
        message_text=question["text"], reply_markup=question["reply_markup"],
    )  # fmt: skip
    [sent] = await d.update(b, press)
    assert sent["text"] == SENT
    code = await one_code_for(d, HOLDER, count=2)
    [verified] = await d.update(a, said(code))
    assert (
        verified["text"] == "手機驗證完成！通行證 KHPS113-000040 的手機 0960-123-411 已完成驗證。"
    )

    # No double sends: two outbox workers, and still one SMS per code.
    await asyncio.sleep(1.5)
    assert len(d.sms_to(HOLDER)) == 2
    assert len(d.twilio.messages) == 2

    # The failed-lookup cool-down counts the failures both processes saw.
    for n in range(5):
        server = both[n % 2]
        await d.text(server, STRANGER, "驗證")
        await d.text(server, STRANGER, "KHPS113-000030")
        await d.text(both[(n + 1) % 2], STRANGER, "A123456789")
        assert NOT_FOUND in await d.text(server, STRANGER, "1")
    assert (await d.text(a, STRANGER, "驗證")).startswith(COOLED)
    assert (await d.text(b, STRANGER, "驗證")).startswith(COOLED)

    # The link page's per-address limit is one limit for the pair.
    await _not_at_the_end_of_a_minute()
    statuses = [
        await _get(d, both[n % 2], "/v/AAAAAAAAAAAA") for n in range(LINK_REQUESTS_PER_MINUTE)
    ]
    assert 429 not in statuses  # each process saw only half of them
    assert await _get(d, a, "/v/AAAAAAAAAAAA") == 429
    assert await _get(d, b, "/v/AAAAAAAAAAAA") == 429


@pytest.mark.postgres
async def test_one_chats_updates_at_once_through_both_processes_answer_turn_by_turn(
    postgres: Deployment,
) -> None:
    """Telegram may deliver a chat's updates in parallel (max_connections > 1), and with
    two processes they land in both: each turn's replies still come out together, one
    turn after the other, never interleaved."""
    d = postgres
    a, b = await asyncio.gather(d.serve(), d.serve())
    ids = UpdateIds()
    updates = [message_update(ids.next(), CHAT, "/start") for _ in range(8)]
    await asyncio.gather(*(d.update((a, b)[n % 2], u) for n, u in enumerate(updates)))
    texts = [m["text"] for m in d.telegram.sent_messages(CHAT)]
    assert len(texts) == 16
    welcome = texts[0]
    assert texts == [welcome, ASK_PASS] * 8


@pytest.mark.postgres
async def test_two_processes_together_keep_to_the_send_rate(postgres: Deployment) -> None:
    """``sms.max_per_second`` is the provider account's, not each process's: two serve
    processes with 30 SMS queued at 5 per second (bursts of 5) take 5 s to hand them
    to Twilio, and no second holds more than a burst and a second's worth (10). With a
    bucket in each process they sent the lot in 2 s, up to 20 in the first second.
    (Measured where Twilio receives them: a connection's set-up, or a loaded machine
    waking a process late, bunches a few; the bounds leave a second and four SMS.)"""
    d = postgres
    d.env["PORTPASS_SMS_MAX_PER_SECOND"] = "5"
    a, b = await asyncio.gather(d.serve(), d.serve())
    engine = create_engine(d.env["PORTPASS_DATABASE_URL"])
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            for n in range(30):
                sms = OutgoingSms(to=Phone.parse(f"0912{n:06d}"), body=f"notice {n}", kind="notice")
                await uow.outbox.add(sms, datetime.now(UTC))
            await uow.commit()
    finally:
        await engine.dispose()
    async with asyncio.timeout(30):
        while len(d.twilio.messages) < 30:  # noqa: ASYNC110 - the fake's record
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert len(d.twilio.messages) == 30  # each once
    times = sorted(d.twilio.accepted_at)
    span = times[-1] - times[0]
    assert (30 - 5) / 5 - 1.0 <= span < (30 - 5) / 5 + 3.0, span  # at the rate, not slower
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 5 + 5 + 4, [round(t - times[0], 2) for t in times]
    assert a.process.returncode is None and b.process.returncode is None


async def one_code_for(d: Deployment, phone: str, *, count: int) -> str:
    """The code in the ``count``-th SMS to ``phone``, once FakeTwilio has it."""
    for _ in range(200):
        bodies = d.sms_to(phone)
        if len(bodies) >= count:
            match = _CODE.search(bodies[count - 1])
            assert match, bodies[count - 1]
            return match.group(1)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no SMS {count} to {phone}: {d.sms_to(phone)}")


async def _get(d: Deployment, server: Server, path: str) -> int:
    async with d.session.get(f"{server.url}{path}") as response:
        await response.read()
        return response.status


async def _not_at_the_end_of_a_minute() -> None:
    """The limit counts per minute: start a burst with the minute's end well ahead."""
    into = time.time() % 60
    if into > 50:
        await asyncio.sleep(60 - into + 0.1)


async def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    async with deployment_on(f"sqlite:///{tmp_path / 'portpass.db'}", tmp_path) as d:
        code, out = await d.cli("serve", "--workers", "2")
    assert code == 2
    assert out == (
        "portpass: --workers 2 needs PostgreSQL (database.url); SQLite is served by one "
        "process: run serve without --workers\n"
    )


@pytest.mark.postgres
async def test_workers_share_one_port_register_once_and_stop_together(tmp_path: Path) -> None:
    async with postgres_role() as url, deployment_on(url, tmp_path) as d:
        d.env["PORTPASS_TELEGRAM_SET_WEBHOOK"] = "true"
        server = await d.serve("--workers", "2")
        children = _children(server.process.pid)
        assert len(children) == 2
        answered = [await _get(d, server, "/healthz") for _ in range(20)]
        assert answered == [200] * 20
        async with asyncio.timeout(20):  # both workers have started Telegram
            while len(d.telegram.calls_to("getMe")) < 2:  # noqa: ASYNC110 - the fake's record
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        # The leader alone registers the webhook and the command menu.
        assert len(d.telegram.calls_to("setWebhook")) == 1
        one_menu = len(d.telegram.calls_to("setMyCommands"))
        server.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await server.process.wait() == 0
        assert _children(server.process.pid) == []
        assert not any(_alive(pid) for pid in children)
        assert len(d.telegram.calls_to("setMyCommands")) == one_menu


@pytest.mark.postgres
async def test_workers_poll_telegram_in_one_process(tmp_path: Path) -> None:
    """In polling mode only worker 0 polls: PTB's poller deletes any webhook first, once
    per poller, and Telegram refuses a second poller of the same bot."""
    async with postgres_role() as url, deployment_on(url, tmp_path) as d:
        d.env["PORTPASS_TELEGRAM_MODE"] = "polling"
        del d.env["PORTPASS_TELEGRAM_WEBHOOK_SECRET"]
        server = await d.serve("--workers", "2")
        async with asyncio.timeout(20):
            while len(d.telegram.calls_to("getMe")) < 2:  # noqa: ASYNC110 - the fake's record
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert len(d.telegram.calls_to("deleteWebhook")) == 1
        assert d.telegram.calls_to("getUpdates")
        d.telegram.queue_update(message_update(1, CHAT, "/start"))
        async with asyncio.timeout(10):
            while len(d.telegram.sent_messages(CHAT)) < 2:  # noqa: ASYNC110 - the fake's record
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert [m["text"] for m in d.telegram.sent_messages(CHAT)][1:] == [ASK_PASS]
        # A supervisor killed outright leaves no worker behind to keep polling.
        children = _children(server.process.pid)
        server.process.kill()
        await server.process.wait()
        async with asyncio.timeout(10):
            while any(_alive(pid) for pid in children):  # noqa: ASYNC110 - other processes
                await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            if fields.get("PPid", "").strip() == str(pid) and "Z" not in fields.get("State", ""):
                found.append(int(status.parent.name))
    return found


@pytest.mark.postgres
async def test_metrics_of_workers_are_the_sum_of_all_of_them(tmp_path: Path) -> None:
    """Prometheus scrapes one port; whichever worker answers must report every worker's
    counts, or each scrape would show a different share and rate() would be nonsense."""
    async with postgres_role() as url, deployment_on(url, tmp_path) as d:
        d.env["PORTPASS_METRICS_ENABLED"] = "true"
        server = await d.serve("--workers", "2")
        before = [await _healthz_count(server) for _ in range(6)]
        # Many connections at once, each its own: the kernel hands them to both workers.
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        async with aiohttp.ClientSession(connector=connector) as fresh:

            async def hit() -> int:
                async with fresh.get(f"{server.url}/healthz") as response:
                    await response.read()
                    return response.status

            for _ in range(4):
                assert await asyncio.gather(*(hit() for _ in range(25))) == [200] * 25
        after = [await _healthz_count(server) for _ in range(6)]
        assert len(set(before)) == 1  # every scrape, whoever answers, says the same
        assert after == [before[0] + 100] * 6
        text = await _scrape(server)
        assert "process_cpu_seconds_total" not in text  # one worker's, under all's name


async def _scrape(server: Server) -> str:
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"{server.url}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


async def _healthz_count(server: Server) -> float:
    """``/healthz`` answers counted, as one scrape (a new connection) reports them."""
    pattern = re.compile(
        r'^portpass_http_responses_total\{[^}]*route="/healthz"[^}]*status="200"[^}]*\} (\S+)$',
        re.M,
    )
    found = pattern.findall(await _scrape(server))
    return sum(float(x) for x in found)
