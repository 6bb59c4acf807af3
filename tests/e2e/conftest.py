"""The app over real HTTP (pytest-aiohttp), on a real SQLite file, with the demo
registry (the guide's test holders) loaded and a clock the test moves by hand.

The demo database is built once per session, by the composition root's own first
start (:func:`tests.database_templates.build_demo`), and each test's file starts as a
copy of it: loading the registry into a freshly migrated file per test was most of
what this tier cost. Tests that build their app with ``create_app`` themselves still
start from an empty file, as a first ``serve --demo`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.bootstrap import Overrides
from bot.config import Config, load_config
from bot.providers.console import ConsoleSender
from bot.services import SERVICES, Services
from fakes.clock import FakeClock
from storage.tables import outbox
from tests.database_templates import build_demo, copy_template, demo_target

PUBLIC_BASE_URL = "https://pp.example.tw"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-twilio-auth-token"

AppClient = TestClient[web.Request, web.Application]
Middleware = Callable[..., Awaitable[web.StreamResponse]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ``load_config``; tests add or change keys before the app starts."""
    return {
        "PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'portpass.db'}",
        "PORTPASS_SERVER_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PORTPASS_SECURITY_SECRET_KEY": "e2e-secret-key-" + "x" * 32,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    }


@pytest.fixture
def config(config_env: dict[str, str], tmp_path: Path) -> Config:
    return load_config(None, config_env, cwd=tmp_path)


@pytest.fixture
def sender() -> ConsoleSender:
    """Records what the app sends; tests that need Twilio pass a TwilioSender instead."""
    return ConsoleSender(keep=500)


@pytest.fixture(scope="session")
def demo_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database as the first ``serve --demo`` leaves it, once per session."""
    return build_demo(tmp_path_factory.mktemp("templates") / "demo.db")


@pytest.fixture
def make_client(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    clock: FakeClock,
    sender: ConsoleSender,
    demo_sqlite: Path,
) -> Callable[..., Awaitable[AppClient]]:
    async def make(
        config: Config,
        *,
        demo: bool = True,
        middlewares: Sequence[Middleware] = (),
        port: int | None = None,
        **overrides: object,
    ) -> AppClient:
        if demo and (target := demo_target(config)) is not None:
            copy_template(demo_sqlite, target)
        extra = Overrides(**{"clock": clock, "sender": sender, **overrides})  # type: ignore[arg-type]
        app = create_app(config, demo=demo, overrides=extra)
        app.middlewares.extend(middlewares)  # a test's probes (e2e/request_tasks.py)
        # ``port``: for a test whose public_base_url must be the server's own address.
        return await aiohttp_client(app, server_kwargs={"port": port} if port else None)

    return make


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[AppClient]], config: Config) -> AppClient:
    return await make_client(config)


def services_of(client: AppClient) -> Services:
    return client.app[SERVICES]


async def sent_sms(services: Services, to: str) -> list[str]:
    """Every SMS the app queued for ``to`` (E.164), oldest first, as written (without
    the sender name, 【港務】 or its language's, put first): read from the console sender
    once the outbox worker (woken by the commit) has handed all of them over. The
    outbox itself keeps codes and links only sealed."""
    sender = services.sender
    assert isinstance(sender, ConsoleSender), "sent_sms reads the console sender"
    query = select(func.count()).select_from(outbox).where(outbox.c.to_phone == to)
    async with services.engine.connect() as conn:
        queued = (await conn.execute(query)).scalar_one()
    names = [texts.sender_name for texts in services.config.texts if texts.sender_name]
    prefixes = [name if not name[-1].isascii() else f"{name} " for name in names]
    async with asyncio.timeout(5.0):
        while True:
            bodies = [m.body for m in sender.recent if m.to == to]
            if len(bodies) >= queued:
                return [_unsigned(body, prefixes) for body in bodies]
            await asyncio.sleep(0.01)


def _unsigned(body: str, prefixes: list[str]) -> str:
    return next((body.removeprefix(p) for p in prefixes if body.startswith(p)), body)
