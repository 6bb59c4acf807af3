"""The fake Twilio API and an app configured to send through it (the outbox worker's
tests; a module may define its own ``fake`` or ``twilio_config`` instead)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config, load_config
from fakes.twilio_api import FakeTwilio
from tests.e2e.conftest import TWILIO_SID, TWILIO_TOKEN

FROM = "+15005550006"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(TWILIO_SID, TWILIO_TOKEN) as server:
        yield server


@pytest.fixture
def twilio_config(config_env: dict[str, str], tmp_path: Path, fake: FakeTwilio) -> Config:
    env = {
        **config_env,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": FROM,
        "PORTPASS_TWILIO_API_BASE_URL": fake.url,
        "PORTPASS_SMS_MAX_PER_SECOND": "1000",
    }
    return load_config(None, env, cwd=tmp_path)
