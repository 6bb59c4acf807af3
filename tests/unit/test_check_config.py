"""``portpass check-config``: every SMS as holders will get it, its segments and what a
100,000-holder campaign costs, the two-segment target of the default verification text,
and the settings with every secret masked."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from bot.cli.check_config import replies_line, sms_lines
from bot.cli.main import main
from bot.config import load_config
from bot.server import run_server
from core.codes import SystemSecrets
from core.verification.sms_preview import BASE_URL_TARGET, SAMPLE_TOKEN, sample_sms, segment_warning
from core.verification.wording import LanguageWording, SmsWording

BASE_26 = "https://portpass.twport.tw"
BASE_20 = "https://pp.khport.tw"
BASE_40 = "https://verify-portpass.twport.gov.tw/pp"
BASE_60 = "https://verify-portpass.twport.gov.tw/portpass-holders/links"
KEY = "check-config-secret-key-" + "s" * 24


def test_the_sample_token_is_as_long_as_a_real_one() -> None:
    assert len(SAMPLE_TOKEN) == len(SystemSecrets().token())
    assert re.fullmatch(r"[A-Za-z0-9_-]+", SAMPLE_TOKEN)


def test_a_26_character_base_url_keeps_every_verification_sms_in_two_segments() -> None:
    assert len(BASE_26) == BASE_URL_TARGET == 26
    rendered = {sms.language: sms for sms in sample_sms(BASE_26)}
    zh, en = rendered["zh-TW"], rendered["en"]
    assert f"{BASE_26}/v/{SAMPLE_TOKEN}" in zh.body and "0043" in zh.body
    # The words of the port company's notice, what the link does, and do not share.
    for words in ("港區通行證手機驗證", "24小時", "點連結即完成驗證", "請勿將驗證碼告訴他人"):
        assert words in zh.body
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 2)
    assert (en.segments.encoding, en.segments.count) == ("GSM-7", 2)
    assert all(sms.segments.count <= 2 for sms in rendered.values())
    assert segment_warning(BASE_26) is None


def test_the_one_segment_text_stays_possible_for_a_company_that_prefers_cost() -> None:
    words = LanguageWording.catalogue("zh-TW")
    cheap = SmsWording(
        {
            "zh-TW": LanguageWording(
                "【港務】",
                "通行證末四碼{last4}驗證碼{code}，24小時內有效，或點{link}",
                words.reminder,
                words.notices,
            )
        }
    )
    zh = next(sms for sms in sample_sms(BASE_20, cheap) if sms.language == "zh-TW")
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 1)


def test_a_60_character_base_url_takes_three_segments_and_warns() -> None:
    zh = next(sms for sms in sample_sms(BASE_60) if sms.language == "zh-TW")
    assert (zh.segments.encoding, zh.segments.count) == ("UCS-2", 3)
    warning = segment_warning(BASE_60)
    assert warning is not None
    assert "zh-TW verification: 3 segments" in warning
    assert f"{len(BASE_60)} characters" in warning and f"at most {BASE_URL_TARGET}" in warning
    assert "en verification" not in warning  # the English SMS is GSM-7 and still fits 306


def test_a_trailing_slash_is_not_counted_twice() -> None:
    assert sample_sms(BASE_20 + "/") == sample_sms(BASE_20)


def test_sms_lines_name_length_encoding_count_and_campaign_cost(tmp_path: Path) -> None:
    env = {"PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_60, "PORTPASS_SMS_PRICE_PER_SEGMENT": "0.05"}
    config = load_config(env=env, cwd=tmp_path)
    text = "\n".join(sms_lines(config))
    assert f"{len(BASE_60)} characters; at most 26 keep" in text
    assert "a campaign to 100,000 holders at 0.05 USD a segment" in text
    assert (
        "UCS-2 (70 single / 67 per part): 3 segments; 100,000 holders: 300,000 segments, "
        "15,000.00 USD" in text
    )
    assert "GSM-7 (160 single / 153 per part): 1 segment; 100,000 holders: 100,000 segments" in text
    for kind in ("verification", "reminder", "notice_reinstated", "notice_abnormal_record"):
        for language in ("zh-TW", "en", "vi", "id"):
            assert f"  {language} {kind}: " in text
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
    # Who is writing comes first, in each language's own name (texts_*.sender_name).
    assert "zh-TW verification: 【港務】港區通行證手機驗證：通行證末四碼0043，驗證碼042917" in out
    assert "en verification: [Taiwan Ports] Port pass phone verification: pass ending 0043" in out
    assert (
        "vi verification: [Cang Dai Loan] Xac minh dien thoai the ra vao cang: the so cuoi 0043"
        in out
    )
    assert "id verification: [Pelabuhan Taiwan] Verifikasi HP kartu pas pelabuhan" in out
    assert out.count(": 2 segments;") == 8  # verification and reminder, four languages
    assert out.count(": 1 segment;") == 16  # four notices, four languages
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


async def test_serve_warns_at_start_when_the_sms_takes_three_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_60,
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
    assert f"{len(BASE_60)} characters" in warning and "at most 26" in warning


def test_each_language_signs_with_its_own_sender_name_and_keeps_its_encoding() -> None:
    rendered = {sms.language: sms for sms in sample_sms(BASE_26)}
    assert rendered["zh-TW"].body.startswith("【港務】港區通行證")
    assert rendered["vi"].body.startswith("[Cang Dai Loan] Xac minh")
    assert rendered["id"].body.startswith("[Pelabuhan Taiwan] Verifikasi")
    assert rendered["en"].segments.encoding == "GSM-7"  # no Chinese name: not UCS-2
    assert rendered["vi"].segments.encoding == "GSM-7"


def test_an_empty_sender_name_adds_nothing() -> None:
    words = LanguageWording.catalogue("en")
    unsigned = SmsWording({"zh-TW": words, "en": replace(words, sender_name="")})
    assert unsigned.sign("abc", "en") == "abc"
    assert unsigned.sign("abc", "zh-TW") == "[Taiwan Ports] abc"


def test_it_says_where_holders_are_sent_when_sms_replies_cannot_arrive(tmp_path: Path) -> None:
    env = {"PORTPASS_SERVER_PUBLIC_BASE_URL": BASE_20, "PORTPASS_SECURITY_SECRET_KEY": KEY}
    console = load_config(None, env, cwd=tmp_path)
    assert replies_line(console).startswith("SMS replies reach the bot")
    told = load_config(None, {**env, "PORTPASS_SMS_RECEIVES_REPLIES": "no"}, cwd=tmp_path)
    line = replies_line(told)
    assert "do not reach" in line and f"{BASE_20}/verify" in line
