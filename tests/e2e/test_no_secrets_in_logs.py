"""No secret and no personal data reaches the log, at any level, through any library.

The process's own log handler (``bot.logs.configure_logging``, what ``portpass serve``
installs) records everything at DEBUG, in the text and the JSON format, with every
library logger turned up, while two holders verify: one on Telegram (PTB and its HTTP
client against a local Bot API server), one by SMS and the link page (signed webhooks
in, the real twilio client out to a local Twilio API), and an operator reads a pass and
sends a code. Then the whole log is searched for the bot token, the webhook secret, the
Twilio auth token, the secret key, each code and each link token; and for the holders'
ID numbers, names and phones in every spelling (docs/security.md, "Personal data in
logs").
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.bootstrap import Overrides
from bot.config import Config, load_config
from bot.logs import CHATTY_LOGGERS, RedactingFormatter, configure_logging
from bot.privacy import FLOORS
from bot.sms.outbox_worker import OutboxTuning
from fakes.clock import FakeClock
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds
from fakes.twilio_api import FakeTwilio
from tests.e2e.conftest import TWILIO_SID, TWILIO_TOKEN, AppClient, services_of
from tests.e2e.sms.test_sms_inbound import Handset
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    PHONE,
    WEBHOOK_SECRET,
    TelegramUser,
    telegram_env,
    texts,
)
from tests.e2e.web.test_link_page import form_tag

SMS_PASS, SMS_ID = "KHPS113-000040", "QQ12345671"  # the same phone as PASS_NO's holder
CODE = re.compile(r"驗證碼(\d{6})|code (\d{6})")
LINK = re.compile(r"/v/([A-Za-z0-9_-]+)")
TUNING = OutboxTuning(poll_interval=0.02, lease=3600.0, backoff_base=1.0, backoff_cap=8.0)
#: Every library logger that could describe a call's parameters, turned up to DEBUG.
LIBRARY_LOGGERS = (*CHATTY_LOGGERS, *FLOORS, "sqlalchemy.engine", "aiohttp", "asyncpg")


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as server:
        yield server


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture(params=["text", "json"])
def config(
    request: pytest.FixtureRequest,
    config_env: dict[str, str],
    tmp_path: Path,
    twilio: FakeTwilio,
    telegram: FakeTelegram,
) -> Config:
    env = config_env | telegram_env(telegram)
    env |= {
        "PORTPASS_LOGGING_FORMAT": request.param,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
        "PORTPASS_TWILIO_API_BASE_URL": twilio.url,
    }
    return load_config(None, env, cwd=tmp_path)


@pytest.fixture
def captured(config: Config) -> Iterator[io.StringIO]:
    """The process's log, as ``serve`` writes it, at DEBUG."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in (*LIBRARY_LOGGERS, "alembic", "")}
    stream = io.StringIO()
    handler = configure_logging(config, stream=stream, level="DEBUG")
    # Quiet loggers are part of the protection, but the test asks for everything: the
    # handler and its formatter alone must hold when someone turns the libraries' logs
    # back on (an engine's echo=True does it for SQLAlchemy).
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def sms_for(twilio: FakeTwilio, last_four: str, count: int = 1) -> list[str]:
    """The bodies Twilio accepted for a pass, once the outbox worker has sent them."""
    for _ in range(300):
        bodies = [m["body"] for m in twilio.messages if f"0{last_four[-3:]}" in m["body"]]
        bodies = [b for b in bodies if last_four in b]
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.01)
    raise AssertionError(f"no SMS for {last_four} reached the provider")


def code_in(body: str) -> str:
    match = CODE.search(body)
    assert match is not None, "no code in the SMS"
    return match.group(1) or match.group(2)


def token_in(body: str) -> str:
    match = LINK.search(body)
    assert match is not None, "no link in the SMS"
    return match.group(1)


async def test_no_secret_in_any_log_line_of_a_telegram_and_an_sms_verification(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    config: Config,
    clock: FakeClock,
    twilio: FakeTwilio,
    telegram: FakeTelegram,
    captured: io.StringIO,
) -> None:
    client = await aiohttp_client(
        create_app(config, demo=True, overrides=Overrides(clock=clock, outbox=TUNING))
    )

    # A holder on Telegram: the code goes out by SMS and comes back typed in the chat.
    user = TelegramUser(client, telegram, 555_000_777)
    question = await user.verify_until_confirm(PASS_NO, ID_NO, PHONE)
    await user.press(question, f"c:confirm:{PASS_NO}")
    [telegram_sms] = await sms_for(twilio, "0043")
    done = texts(await user.say(code_in(telegram_sms)))
    assert any("手機驗證完成" in text for text in done)

    # A holder by SMS: a wrong code texted back, then the link page confirms.
    handset = Handset(client, "+886960123411")
    assert "確定要取得" in await handset.say("驗證", SMS_PASS, SMS_ID)
    await handset.say("1")
    [sms] = await sms_for(twilio, "0040")
    wrong = f"{(int(code_in(sms)) + 1) % 1_000_000:06d}"
    await handset.say(wrong)
    path = f"/v/{token_in(sms)}"
    page = await (await client.get(path, headers={"Accept-Language": "zh-TW"})).text()
    confirmed = await client.post(path, data={"tag": form_tag(page)})
    assert confirmed.status == 200, await confirmed.text()

    log = captured.getvalue()
    assert "HTTP Request" in log or "sendMessage" in log or "outbox" in log  # it did log
    secrets = {
        "bot token": telegram.token,
        "bot token's secret half": telegram.token.split(":", 1)[1],
        "webhook secret": WEBHOOK_SECRET,
        "Twilio auth token": TWILIO_TOKEN,
        "secret key": config.security.secret_key.reveal(),
        "Telegram holder's code": code_in(telegram_sms),
        "Telegram holder's link token": token_in(telegram_sms),
        "SMS holder's code": code_in(sms),
        "SMS holder's wrong guess": wrong,
        "SMS holder's link token": token_in(sms),
    }
    leaked = [name for name, secret in secrets.items() if secret in log]
    assert leaked == [], f"in the log: {leaked}"


#: Personal data of the demo registry's holders and of the operator, in every spelling a
#: library or a message could give it.
PERSONAL_DATA = {
    "Telegram holder's ID number": ID_NO,
    "SMS holder's ID number": SMS_ID,
    "ID number typed with a wrong check digit": "R123456780",
    "ID number an operator read": "QQ12345675",
    "name an operator read": "簡訊測試五",
    "Telegram holder's name": "檢訊測試三",
    "SMS holder's name": "檢訊測試一",
    "operator's name": "王小明",
    "phone, as typed": PHONE,
    "phone, E.164": "+886960123411",
    "phone, E.164 without +": "886960123411",
    "phone, as shown": "0960-123-411",
    "phone, national digits": "960123411",
}


async def test_no_id_number_name_or_phone_in_any_log_line(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    config: Config,
    clock: FakeClock,
    twilio: FakeTwilio,
    telegram: FakeTelegram,
    captured: io.StringIO,
) -> None:
    client = await aiohttp_client(
        create_app(config, demo=True, overrides=Overrides(clock=clock, outbox=TUNING))
    )

    # A holder mistypes an ID number: the answer quotes it in full.
    ids = UpdateIds()  # one sequence: the gate drops a repeated update_id
    typo = TelegramUser(client, telegram, 555_000_778, ids=ids)
    await typo.say("/start")
    await typo.say(PASS_NO)
    [quoted] = texts(await typo.say("R123456780"))
    assert "R123456780" in quoted

    # A holder verifies on Telegram, sharing their phone.
    user = TelegramUser(client, telegram, 555_000_777, ids=ids)
    question = await user.verify_until_confirm(PASS_NO, ID_NO, PHONE)
    await user.press(question, f"c:confirm:{PASS_NO}")
    [telegram_sms] = await sms_for(twilio, "0043")
    await user.say(code_in(telegram_sms))

    # A holder by SMS.
    handset = Handset(client, "+886960123411")
    await handset.say("驗證", SMS_PASS, SMS_ID)
    await handset.say("1")
    await sms_for(twilio, "0040")

    # An operator reads the pass in full and has a code sent to the phone on file.
    _, link = await services_of(client).operator_lifecycle.add_operator("王小明", "高雄港測試業者")
    operator = TelegramUser(client, telegram, 555_000_779, ids=ids)
    await operator.say(f"/link {link.code}")
    [shown] = texts(await operator.say("/pass KHPS113-000047"))
    assert "QQ12345675" in shown and "簡訊測試五" in shown and "0960-123-411" in shown
    [send_question] = await operator.say("/send KHPS113-000047")
    [[confirm, _cancel]] = send_question["reply_markup"]["inline_keyboard"]
    await operator.press(send_question, confirm["callback_data"])
    await sms_for(twilio, "0047")

    log = captured.getvalue()
    assert "inbound SMS" in log and "outbox" in log  # it did log
    leaked = [what for what, value in PERSONAL_DATA.items() if value in log]
    assert leaked == [], f"in the log: {leaked}"
    assert "QQ1*****73" in log or "0960-***-411" in log  # masked, not dropped


def test_the_formatter_removes_secrets_from_urls_and_tracebacks() -> None:
    formatter = RedactingFormatter(["s3cr3t-value"])
    logger = logging.getLogger("test.redaction")
    try:
        raise ConnectionError("GET https://api.telegram.org/bot123456:AAH-x_y/getMe failed")
    except ConnectionError:
        record = logger.makeRecord(
            "test.redaction",
            logging.ERROR,
            __file__,
            1,
            "calling %s with %s from %s",
            ("https://api.telegram.org/bot123456:AAH-x_y/getMe", "s3cr3t-value", "/v/AbC_d-123456"),
            exc_info=__import__("sys").exc_info(),
        )
    line = formatter.format(record)
    assert "AAH-x_y" not in line and "s3cr3t-value" not in line and "AbC_d-123456" not in line
    assert "/bot***/getMe" in line and "/v/***" in line
    assert "ConnectionError" in line  # the traceback itself is kept


def test_a_database_password_is_masked_but_the_rest_of_the_url_kept() -> None:
    formatter = RedactingFormatter([])
    line = formatter.redact("connect to postgresql://portpass:hunter2@db:5432/portpass")
    assert line == "connect to postgresql://portpass:***@db:5432/portpass"
