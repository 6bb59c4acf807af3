"""How many database transactions one message costs, counted over real HTTP on SQLite.

An SMS turn is one transaction: the MessageSid claim, the conversation turn and the
stored reply commit together, and the TwiML is rendered from what the turn returned.
A Telegram update is at most two: the update-id claim (the gate, shared by every
feature) and the turn. A channel that read the conversation again after the turn would
add transactions here, and on SQLite every one takes the write lock.

Counted with a ``begin`` listener on the app's engine, keeping only the transactions
begun by the HTTP request itself (a middleware notes the request's task), so the outbox
worker and housekeeping, which run beside it, do not blur the count.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.config import load_config
from fakes.telegram_api import FakeTelegram
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.request_tasks import RequestTasks
from tests.e2e.sms.test_sms_inbound import Handset, last_code
from tests.e2e.telegram.fixtures import ID_NO, PASS_NO, PHONE, TelegramUser, telegram_env


class TransactionCounter:
    """Counts ``begin`` events on the app's engine made while serving an HTTP request."""

    def __init__(self) -> None:
        self.requests = RequestTasks()
        self.begun = 0
        self.statements: list[str] = []

    def on_begin(self, _connection: Any) -> None:
        if self.requests.serving():
            self.begun += 1

    def on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.requests.serving():
            self.statements.append(statement.split()[0])

    async def during(self, action: Awaitable[Any]) -> int:
        """The transactions ``action`` (one HTTP request) began."""
        before = self.begun
        await action
        return self.begun - before


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def counter() -> TransactionCounter:
    return TransactionCounter()


@pytest.fixture
async def counted_client(
    make_client: Callable[..., Awaitable[AppClient]],
    config_env: dict[str, str],
    tmp_path: Path,
    fake: FakeTelegram,
    counter: TransactionCounter,
) -> AppClient:
    """The app on SQLite, with Telegram on (webhook mode), counting transactions."""
    config = load_config(None, config_env | telegram_env(fake), cwd=tmp_path)
    client = await make_client(config, middlewares=[counter.requests.middleware])
    event.listen(services_of(client).engine.sync_engine, "begin", counter.on_begin)
    event.listen(
        services_of(client).engine.sync_engine, "before_cursor_execute", counter.on_statement
    )
    return client


async def test_an_sms_turn_is_one_transaction(
    counted_client: AppClient, counter: TransactionCounter
) -> None:
    phone = Handset(counted_client)
    steps = ["驗證", PASS_NO, ID_NO, "1"]  # the ID's answer is the question with options

    counts = [await counter.during(phone.send(body)) for body in steps]
    code = await last_code(counted_client)
    counts.append(await counter.during(phone.send(code)))

    assert counts == [1, 1, 1, 1, 1]


async def test_an_sms_code_reply_is_eight_statements_on_sqlite(
    counted_client: AppClient, counter: TransactionCounter
) -> None:
    """Each statement costs a turn more than SQLite's own work (SQLAlchemy's execution
    path, the result's rows). After BEGIN IMMEDIATE (which the inline dialect issues
    itself, outside SQLAlchemy's statement path): the MessageSid claim, which returns the
    conversation's state and whether the sender opted out of SMS (asked before
    replying); the phone's requests; R1's re-check of the pass; the pass and the request
    marked verified; the audit entry; the conversation saved; the reply remembered for a
    retry (then COMMIT). Nine before the opt-out was read with the claim."""
    phone = Handset(counted_client)
    await phone.say("驗證", PASS_NO, ID_NO, "1")
    code = await last_code(counted_client)
    counter.statements.clear()

    await phone.send(code)

    assert counter.statements == [
        "INSERT", "SELECT", "SELECT", "UPDATE", "UPDATE", "INSERT", "INSERT", "UPDATE",
    ]  # fmt: skip


async def test_the_confirming_sms_is_ten_statements_on_sqlite(
    counted_client: AppClient, counter: TransactionCounter
) -> None:
    """The "1" that asks for the code: the claim (state and opt-out, as above); the
    sender's failed lookups (the cool-down); the pass, locked; R2's earlier request; the
    request, its SMS and its audit entry; the language the phone used, remembered so later
    SMS (campaign, notices) speak it; the conversation saved and the reply remembered.
    The opt-out is asked twice (may a code go to this phone; may the reply), and read
    once: eleven statements before (a second opt-out read, and one apart from the claim),
    nine before the phone's language was remembered."""
    phone = Handset(counted_client)
    await phone.say("驗證", PASS_NO, ID_NO)
    counter.statements.clear()

    await phone.send("1")

    assert counter.statements == [
        "INSERT", "SELECT", "SELECT", "SELECT", "INSERT", "INSERT", "INSERT", "INSERT",
        "INSERT", "UPDATE",
    ]  # fmt: skip


async def test_a_retried_sms_is_one_transaction(
    counted_client: AppClient, counter: TransactionCounter
) -> None:
    phone = Handset(counted_client)
    await phone.say("驗證", PASS_NO)
    sid = "SM" + "a" * 32
    first = await phone.send(ID_NO, sid=sid)

    retried = await counter.during(phone.send(ID_NO, sid=sid))

    assert retried == 1
    assert await phone.send(ID_NO, sid=sid) == first  # the same answer, options hint too


async def test_a_telegram_update_is_at_most_two_transactions(
    counted_client: AppClient, counter: TransactionCounter, fake: FakeTelegram
) -> None:
    user = TelegramUser(counted_client, fake, 555_000_333)
    counts = [await counter.during(user.say(text)) for text in ("/start", PASS_NO, ID_NO)]
    shown: list[dict[str, Any]] = []

    async def type_phone() -> None:
        shown.extend(await user.say(PHONE))

    counts.append(await counter.during(type_phone()))
    [question] = shown
    confirm = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    counts.append(await counter.during(user.press(question, confirm)))
    code = await last_code(counted_client)
    counts.append(await counter.during(user.say(code)))

    assert counts == [2, 2, 2, 2, 2, 2]
