"""``logging.format = "json"``: one JSON object a line, with the id of the HTTP request or
Telegram update it was written for, personal data masked and secrets removed as in the
text format; and the request id handed back in ``X-Request-Id``."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, ConfigError, load_config
from bot.logs import JsonFormatter, configure_logging
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import message_update
from tests.e2e.conftest import AppClient
from tests.e2e.sms.test_sms_inbound import Handset
from tests.e2e.telegram.fixtures import post_update, telegram_env


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def config(config_env: dict[str, str], tmp_path: Path, telegram: FakeTelegram) -> Config:
    env = config_env | telegram_env(telegram) | {"PORTPASS_LOGGING_FORMAT": "json"}
    return load_config(None, env, cwd=tmp_path)


@pytest.fixture
def log_lines(config: Config) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(config, stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def entries(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line, which must each be one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_each_line_is_json_with_the_request_id_and_the_phone_masked(
    client: AppClient, log_lines: io.StringIO
) -> None:
    handset = Handset(client, "+886960123411")
    form = handset.form("驗證")
    response = await client.post(
        "/sms/inbound",
        data=form,
        headers={"X-Twilio-Signature": handset.sign(form), "X-Request-Id": "lb-7f3a.42"},
    )
    assert response.status == 200
    assert response.headers["X-Request-Id"] == "lb-7f3a.42"
    [turn] = [e for e in entries(log_lines) if e["logger"] == "bot.sms.inbound"]
    assert turn["request_id"] == "lb-7f3a.42"
    assert turn["level"] == "INFO"
    assert turn["time"].endswith("+00:00")
    assert "0960-***-411" in turn["message"]
    assert "960123411" not in log_lines.getvalue().replace("0960-***-411", "")


async def test_a_request_without_a_usable_id_gets_one_of_ours(
    client: AppClient, log_lines: io.StringIO
) -> None:
    made = await client.get("/healthz")
    spaced = await client.get("/healthz", headers={"X-Request-Id": "a b forged=1"})
    long = await client.get("/healthz", headers={"X-Request-Id": "x" * 65})
    ids = {r.headers["X-Request-Id"] for r in (made, spaced, long)}
    assert len(ids) == 3 and all(len(i) == 16 and i.isalnum() for i in ids)


async def test_a_telegram_update_is_logged_with_its_update_id(
    client: AppClient, log_lines: io.StringIO
) -> None:
    update = message_update(424_242, 555_000_999, "/start")
    assert await post_update(client, update) == 200
    assert await post_update(client, update) == 200  # Telegram's retry: logged, skipped
    [skipped] = [e for e in entries(log_lines) if "seen before" in e["message"]]
    assert skipped["update_id"] == "424242"
    assert skipped["logger"] == "bot.telegram.guard"


def test_json_lines_redact_secrets_in_messages_and_exceptions() -> None:
    formatter = JsonFormatter(["the-secret-key-value"])
    try:
        raise RuntimeError("GET https://api.telegram.org/bot42:SECRETPART/getMe")
    except RuntimeError:
        record = logging.getLogger("x").makeRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "key %s",
            ("the-secret-key-value",),
            exc_info=__import__("sys").exc_info(),
        )
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "key ***"
    assert "SECRETPART" not in entry["exception"] and "RuntimeError" in entry["exception"]


def test_an_unknown_log_format_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"logging\.format must be one of: text, json"):
        load_config(None, {"PORTPASS_LOGGING_FORMAT": "xml"}, cwd=tmp_path)
