"""The Telegram channel's wiring: the webhook's checks, de-duplication, setWebhook,
polling, Telegram off, the rate limiter's 429 retry, and the error handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.bootstrap import Overrides
from bot.config import Config, ConfigError, load_config
from bot.providers.console import ConsoleSender
from bot.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import UpdateIds, message_update
from tests.e2e.conftest import PUBLIC_BASE_URL, AppClient
from tests.e2e.telegram.fixtures import (
    ID_NO,
    PASS_NO,
    WEBHOOK_SECRET,
    TelegramUser,
    post_update,
    telegram_env,
    texts,
)

USER = 555_000_222
ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"

MakeClient = Callable[..., Awaitable[AppClient]]


def start(update_id: int, user: int = USER) -> dict[str, object]:
    """A start whose only answer is the first question (``/start`` greets first)."""
    return message_update(update_id, user, "/verify")


# --- the webhook's checks ------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
async def test_wrong_or_missing_secret_is_403_and_nothing_happens(
    client: AppClient, fake: FakeTelegram, secret: str | None
) -> None:
    assert await post_update(client, start(1), secret=secret) == 403

    assert fake.sent_messages() == []
    assert await post_update(client, start(1)) == 200  # not even marked as seen
    assert texts(fake.sent_messages(USER)) == [ASK_PASS]


async def test_a_redelivered_update_is_handled_once(client: AppClient, fake: FakeTelegram) -> None:
    update = start(7)

    statuses = [await post_update(client, update) for _ in range(3)]

    assert statuses == [200, 200, 200]  # 200 again, or Telegram would keep retrying
    assert texts(fake.sent_messages(USER)) == [ASK_PASS]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "1"}',
        b'{"update_id": true}',
        b'{"update_id": 5, "message": {"text": "no chat"}}',
    ],
)
async def test_malformed_bodies_are_400(client: AppClient, fake: FakeTelegram, body: bytes) -> None:
    response = await client.post(
        WEBHOOK_PATH,
        data=body,
        headers={SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"},
    )

    assert response.status == 400
    assert fake.sent_messages() == []


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,
        b'{"update_id": 7, "message": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"update_id": ' + b"1" * 5_000 + b"}",
    ],
    ids=["nested-20000-deep", "nested-in-an-update", "5000-digit-update-id"],
)
async def test_hostile_json_gets_400_not_500(
    client: AppClient, fake: FakeTelegram, body: bytes
) -> None:
    response = await client.post(
        WEBHOOK_PATH,
        data=body,
        headers={SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert fake.sent_messages() == []


async def test_an_oversized_body_is_413(client: AppClient, config: Config) -> None:
    update = message_update(1, USER, "x" * config.server.max_body_bytes)
    body = json.dumps(update).encode()
    headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}

    response = await client.post(WEBHOOK_PATH, data=body, headers=headers)
    wrong_secret = await client.post(WEBHOOK_PATH, data=body, headers={SECRET_HEADER: "no"})

    assert response.status == 413
    assert wrong_secret.status == 403  # the secret is checked before the size


async def test_only_post_is_routed(client: AppClient) -> None:
    response = await client.get(WEBHOOK_PATH, headers={SECRET_HEADER: WEBHOOK_SECRET})

    assert response.status == 405


# --- on, off, set_webhook, polling -----------------------------------------------------------


async def test_without_a_token_there_is_no_telegram_and_the_app_still_serves(
    make_client: MakeClient,
    config_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        client = await make_client(load_config(None, config_env, cwd=tmp_path))

    assert (await client.post(WEBHOOK_PATH, json=start(1))).status == 404
    assert (await client.get("/healthz")).status == 200
    off = [r for r in caplog.records if r.getMessage() == "Telegram is off (no telegram.token)"]
    assert len(off) == 1


async def test_set_webhook_at_start_with_url_secret_and_update_types(
    make_client: MakeClient, env: dict[str, str], fake: FakeTelegram, tmp_path: Path
) -> None:
    env |= {"PORTPASS_TELEGRAM_SET_WEBHOOK": "true"}

    client = await make_client(load_config(None, env, cwd=tmp_path))

    assert fake.webhook.url == f"{PUBLIC_BASE_URL}/telegram/webhook"
    assert fake.webhook.secret_token == WEBHOOK_SECRET
    assert fake.webhook.allowed_updates == ["message", "callback_query"]
    # Telegram's own delivery, with the secret it was given, reaches the bot.
    assert await fake.deliver(start(1), url=str(client.make_url(WEBHOOK_PATH))) == 200
    assert texts(fake.sent_messages(USER)) == [ASK_PASS]


async def test_no_set_webhook_unless_asked(client: AppClient, fake: FakeTelegram) -> None:
    assert fake.calls_to("setWebhook") == []


async def test_polling_mode_handles_updates_from_get_updates(
    make_client: MakeClient,
    config_env: dict[str, str],
    fake: FakeTelegram,
    tmp_path: Path,
) -> None:
    env = config_env | telegram_env(fake, mode="polling")
    client = await make_client(load_config(None, env, cwd=tmp_path))
    fake.queue_update(start(1), message_update(2, USER, PASS_NO))

    await fake.wait_for("sendMessage", 2)

    assert texts(fake.sent_messages(USER)) == [ASK_PASS, "請輸入身分證號（例：A123456789）。"]
    assert (await client.post(WEBHOOK_PATH, json=start(3))).status == 404  # no webhook route
    await client.close()
    assert fake.calls_to("getUpdates")[-1]["offset"] == 3  # both confirmed to Telegram


# --- limits and errors --------------------------------------------------------------------------


async def test_a_429_is_retried_after_the_pause_telegram_asks_for(
    make_client: MakeClient, config: Config, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PTB_TIMEDELTA PTB would warn (an error here) building the RetryAfter: the
    # app must set it itself.
    monkeypatch.delenv("PTB_TIMEDELTA")
    client = await make_client(config)
    fake.fail_next("sendMessage", retry_after=1)

    assert await post_update(client, start(1)) == 200

    assert texts(fake.sent_messages(USER)) == [ASK_PASS]
    assert [error.error_code for _call, error in fake.errors] == [429]


async def test_a_failing_handler_gets_an_apology_and_a_log_without_personal_data(
    client: AppClient, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    user = TelegramUser(client, fake, USER, ids=UpdateIds(start=40))
    await user.say("/start")
    await user.say(PASS_NO)
    fake.fail_next("sendMessage", 400, f"Bad Request: chat {USER} said {ID_NO}")

    with caplog.at_level(logging.DEBUG, logger="bot"):
        replies = await user.say(ID_NO)

    assert texts(replies) == ["發生錯誤，請稍後再試。"]
    [failure] = [r for r in caplog.records if r.name == "bot.telegram.guard"]
    assert failure.levelno == logging.ERROR
    assert failure.getMessage().startswith("telegram update 42 failed: BadRequest at ")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ID_NO not in logged and PASS_NO not in logged and str(USER) not in logged


async def test_a_rejected_token_stops_start_up_without_showing_the_token(
    env: dict[str, str], fake: FakeTelegram, tmp_path: Path
) -> None:
    env |= {"TELEGRAM_BOT_TOKEN": "123:rejected-token"}
    app = create_app(
        load_config(None, env, cwd=tmp_path), overrides=Overrides(sender=ConsoleSender())
    )
    runner = web.AppRunner(app)  # not the test client: it leaks its session when start fails

    try:
        with pytest.raises(ConfigError, match=r"^telegram.token was rejected") as raised:
            await runner.setup()
    finally:
        await runner.cleanup()

    assert "rejected-token" not in str(raised.value)
    assert fake.rejected_tokens == ["123:rejected-token"]
