"""``portpass check-config``: the SMS as holders will get it, its segment count against
R9's one-segment target, and the settings with every secret masked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from pathlib import Path

import aiohttp
import pytest

from bot.cli.check_config import replies_line, sms_lines
from bot.cli.main import main
from bot.config import load_config
from bot.server import run_server
from core.codes import SystemSecrets
from core.verification.sms_preview import BASE_URL_TARGET, SAMPLE_TOKEN, sample_sms, segment_warning
from core.verification.sms_text import SenderName

BASE_20 = "https://pp.khport.tw"
BASE_40 = "https://verify-portpass.twport.gov.tw/pp"
KEY = "check-config-secret-key-" + "s" * 24


def test_the_sample_token_is_as_long_as_a_real_one() -> None:
    assert len(SAMPLE_TOKEN) == len(SystemSecrets().token())
    assert re.fullmatch(r"[A-Za-z0-9_-]+", SAMPLE_TOKEN)


def test_a_20_character_base_url_keeps_every_sms_in_one_segment() -> None:
    assert len(BASE_20) == BASE_URL_TARGET
    rendered = {sms.language: sms for sms in sample_sms(BASE_20)}
    zh, en = rendered["zh-TW"], rendered["en"]
    assert f"{BASE_20}/v/{SAMPLE_TOKEN}" in zh.body and "0043" in zh.body
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 1)
    assert zh.segments.length <= 70
    assert (en.segments.encoding, en.segments.count) == ("GSM-7", 1)
    assert segment_warning(BASE_20) is None


def test_a_40_character_base_url_takes_two_ucs2_segments_and_warns() -> None:
    assert len(BASE_40) == 40
    zh = next(sms for sms in sample_sms(BASE_40) if sms.language == "zh-TW")
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 2)
    assert 70 < zh.segments.length <= 2 * 67
    warning = segment_warning(BASE_40)
    assert warning is not None
    assert "zh-TW: 2 segments" in warning
    assert "40 characters" in warning and f"at most {BASE_URL_TARGET}" in warning
    assert "en:" not in warning  # the English SMS is GSM-7 and still fits 160


def test_a_trailing_slash_is_not_counted_twice() -> None:
    assert sample_sms(BASE_20 + "/") == sample_sms(BASE_20)


def test_sms_lines_name_length_encoding_and_count(tmp_path: Path) -> None:
    config = load_config(env={"PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_40}, cwd=tmp_path)
    text = "\n".join(sms_lines(config))
    assert "40 characters; target at most 20" in text
    assert "UCS-2 (70 single / 67 per part): 2 segments" in text
    assert "GSM-7 (160 single / 153 per part): 1 segment" in text
    assert "warning:" in text


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An empty working directory (no config.toml) and no PORTPASS_/Twilio/Telegram env."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("PORTPASS_") or name.startswith(("TWILIO_", "TELEGRAM_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_the_command_prints_settings_masked_and_both_templates(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("PORTPASS_SERVER_PUBLIC_BASE_URL", BASE_20)
    clean_env.setenv("PORTPASS_DATABASE_URL", "postgresql://portpass:hunter2@db.example:5432/pp")
    clean_env.setenv("PORTPASS_SECURITY_SECRET_KEY", KEY)
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "123456:telegram-token-value")
    clean_env.setenv("PORTPASS_TELEGRAM_WEBHOOK_SECRET", "webhook_secret_value")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    for secret in ("hunter2", KEY, "telegram-token-value", "webhook_secret_value"):
        assert secret not in out
    assert "url = 'postgresql://portpass:**********@db.example:5432/pp'" in out
    assert "secret_key = **********" in out
    assert f"public_base_url = '{BASE_20}'" in out
    # Who is writing comes first (sms.sender_name), and both still take one segment.
    assert "zh-TW: 【港務】通行證末四碼0043驗證碼042917" in out
    assert "en: [Taiwan Ports] Port pass ending 0043: code 042917" in out
    assert "vi: [Taiwan Ports] The ra vao cang duoi 0043: ma 042917" in out
    assert "id: [Taiwan Ports] Kartu pas pelabuhan akhiran 0043: kode 042917" in out
    assert out.count(": 1 segment") == 4
    assert "warning" not in out


def test_an_unset_key_says_where_it_comes_from(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("PORTPASS_DATABASE_URL", "sqlite:///pp.db")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "secret_key = (not set: generated once and kept in pp.db.secret)" in out
    assert "auth_token = (not set)" in out


def test_an_invalid_config_exits_2_saying_which_key(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("PORTPASS_SERVER_PUBLIC_BASE_URL", "pp.example.tw")
    assert main(["check-config"]) == 2
    assert "server.public_base_url" in capsys.readouterr().err


def test_set_webhook_with_an_http_public_url_fails_check_config_naming_the_key(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("PORTPASS_SERVER_PUBLIC_BASE_URL", "http://pp.example.tw")
    clean_env.setenv("TELEGRAM_BOT_TOKEN", "123456:telegram-token-value")
    clean_env.setenv("PORTPASS_TELEGRAM_WEBHOOK_SECRET", "webhook_secret_value")
    clean_env.setenv("PORTPASS_TELEGRAM_SET_WEBHOOK", "true")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("portpass: configuration: telegram.set_webhook needs an https://")


async def test_serve_warns_at_start_when_the_sms_takes_two_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_40,
        "PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
    }
    config = load_config(env=env, cwd=tmp_path)
    with caplog.at_level(logging.WARNING, logger="bot.server"):
        server = asyncio.create_task(run_server(config, host="127.0.0.1", port=port))
        # Stop it only once it is up: cancelling half-way through start-up would leave
        # the database engine open.
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.05)
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server
    [warning] = [r.getMessage() for r in caplog.records if "segment" in r.getMessage()]
    assert "40 characters" in warning and "at most 20" in warning


def test_the_sender_name_keeps_each_sms_in_one_segment_and_its_encoding() -> None:
    name = SenderName("【港務】", "[Taiwan Ports]")
    rendered = {sms.language: sms for sms in sample_sms(BASE_20, name)}
    zh, en = rendered["zh-TW"], rendered["en"]
    assert zh.body.startswith("【港務】通行證末四碼0043")
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 1)
    assert en.body.startswith("[Taiwan Ports] Port pass ending 0043")
    assert (en.segments.encoding, en.segments.count) == ("GSM-7", 1)  # not UCS-2
    assert segment_warning(BASE_20, name) is None


def test_an_empty_sender_name_adds_nothing() -> None:
    assert SenderName("", "").sign("abc") == "abc"
    assert SenderName("【港務】", "").sign("Port pass") == "Port pass"


def test_it_says_where_holders_are_sent_when_sms_replies_cannot_arrive(tmp_path: Path) -> None:
    env = {"PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_20, "PORTPASS_SECURITY_SECRET_KEY": KEY}
    console = load_config(None, env, cwd=tmp_path)
    assert replies_line(console).startswith("SMS replies reach the bot")
    told = load_config(None, {**env, "PORTPASS_SMS_RECEIVES_REPLIES": "no"}, cwd=tmp_path)
    line = replies_line(told)
    assert "do not reach" in line and f"{BASE_20}/verify" in line
