"""The app with ``sms.sender = "smpp"``, bound over real TCP to :class:`FakeSmsc`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.bootstrap import make_sender
from bot.config import Config, load_config
from bot.providers.sender import SmsSender
from fakes.smsc import FakeSmsc
from tests.e2e.conftest import AppClient

HOLDER = "+886960123411"  # on many passes in the demo registry
_CODE = re.compile(r"驗證碼(\d{6})|(?:code|kode|ma) (\d{6})")


@pytest.fixture
async def smsc() -> AsyncIterator[FakeSmsc]:
    async with FakeSmsc() as server:
        yield server


@pytest.fixture
def smpp_env(config_env: dict[str, str], smsc: FakeSmsc) -> dict[str, str]:
    return {
        **config_env,
        "PORTPASS_SMS_SENDER": "smpp",
        "PORTPASS_SMS_MAX_PER_SECOND": "1000",
        "PORTPASS_SMPP_HOST": "127.0.0.1",
        "PORTPASS_SMPP_PORT": str(smsc.port),
        "PORTPASS_SMPP_SYSTEM_ID": smsc.system_id,
        "PORTPASS_SMPP_PASSWORD": smsc.password,
        "PORTPASS_SMPP_SOURCE_ADDR": "PortPass",
        "PORTPASS_SMPP_MAX_PER_SECOND": "1000",
        "PORTPASS_SMPP_RESPONSE_TIMEOUT_SECONDS": "1",
    }


@pytest.fixture
def smpp_config(smpp_env: dict[str, str], tmp_path: Path) -> Config:
    return load_config(None, smpp_env, cwd=tmp_path)


@pytest.fixture
def sender(smpp_config: Config) -> SmsSender:
    """The real SMPP sender, as ``portpass serve`` makes it from the config."""
    return make_sender(smpp_config)


@pytest.fixture
async def client(
    make_client: Callable[..., Awaitable[AppClient]], smpp_config: Config, smsc: FakeSmsc
) -> AppClient:
    app = await make_client(smpp_config)
    await smsc.wait_for(lambda: smsc.bound >= 1)
    return app


async def texts_to(smsc: FakeSmsc, to: str, count: int, seconds: float = 5.0) -> list[str]:
    """The first ``count`` whole SMS the SMSC took for ``to``, once it has them."""
    await smsc.wait_for(lambda: len(smsc.texts_to(to)) >= count, seconds)
    return smsc.texts_to(to)[:count]


async def holder_gets(smsc: FakeSmsc, fragment: str, to: str = HOLDER) -> str:
    """The first whole SMS to ``to`` that contains ``fragment``, once it has come."""
    await smsc.wait_for(lambda: any(fragment in t for t in smsc.texts_to(to)))
    return next(t for t in smsc.texts_to(to) if fragment in t)


def code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, "no code in the SMS"
    return match.group(1) or match.group(2)


async def settle() -> None:
    await asyncio.sleep(0.05)
