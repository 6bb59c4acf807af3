"""The app with Telegram on, talking to a local server that speaks the Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from fakes.telegram_api import FakeTelegram
from tests.e2e.telegram.fixtures import telegram_env


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns when it builds a RetryAfter unless this is set; the app sets it too,
    # but with setdefault, so the test's value wins and is removed afterwards.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def env(config_env: dict[str, str], fake: FakeTelegram) -> dict[str, str]:
    """The e2e environment with a bot token, webhook secret and the fake's address
    (tests that want Telegram off use ``config_env`` itself)."""
    return config_env | telegram_env(fake)


@pytest.fixture
def config(env: dict[str, str], tmp_path: Path) -> Config:
    return load_config(None, env, cwd=tmp_path)
