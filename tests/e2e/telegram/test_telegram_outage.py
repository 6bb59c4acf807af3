"""A database outage while Telegram delivers an update: the webhook answers 503, so
Telegram delivers it again; the retry, once the database is back, gets the proper
answer, and nothing of the failed delivery was kept.

The gate claims the update id in a transaction of its own, before the turn. An outage
that starts between the two leaves a claim behind, which is released before the 503
(otherwise the retry would be skipped as seen); if even that fails, the user is told
something went wrong, since no retry can answer.

The outage is real: a second connection holds SQLite's write lock (tests/e2e/outage.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import event, select

from bot.config import Config, load_config
from fakes.telegram_api import FakeTelegram
from fakes.telegram_updates import message_update
from storage.tables import inbound_messages
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.outage import LockAtCheckout, WriteLock, database_locked, database_url
from tests.e2e.request_tasks import RequestTasks
from tests.e2e.telegram.fixtures import PASS_NO, post_update, telegram_env, texts

USER = 555_000_444
ASK_PASS = "請輸入通行證號（例：KHPS113-000043）。"
ASK_ID = "請輸入身分證號（例：A123456789）。"
SORRY = "發生錯誤，請稍後再試。"

MakeClient = Callable[..., Awaitable[AppClient]]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "portpass.db"


@pytest.fixture
def config(config_env: dict[str, str], fake: FakeTelegram, tmp_path: Path, db_path: Path) -> Config:
    env = config_env | telegram_env(fake) | {"PORTPASS_DATABASE_URL": database_url(db_path)}
    return load_config(None, env, cwd=tmp_path)


@pytest.fixture
def requests() -> RequestTasks:
    return RequestTasks()


@pytest.fixture
async def client(make_client: MakeClient, config: Config, requests: RequestTasks) -> AppClient:
    return await make_client(config, middlewares=[requests.middleware])


async def claimed(client: AppClient) -> set[str]:
    query = select(inbound_messages.c.message_id).where(inbound_messages.c.channel == "telegram")
    async with services_of(client).engine.connect() as conn:
        return set((await conn.execute(query)).scalars())


async def test_an_update_during_an_outage_is_503_and_telegrams_retry_is_answered(
    client: AppClient, fake: FakeTelegram, db_path: Path
) -> None:
    assert await post_update(client, message_update(1, USER, "/verify")) == 200
    update = message_update(2, USER, PASS_NO)

    async with database_locked(db_path):
        status = await post_update(client, update)

    assert status == 503
    assert "2" not in await claimed(client)  # nothing kept: the retry is a first delivery
    assert texts(fake.sent_messages(USER)) == [ASK_PASS]  # and nothing said meanwhile
    assert await post_update(client, update) == 200  # Telegram's retry
    assert texts(fake.sent_messages(USER)) == [ASK_PASS, ASK_ID]
    assert await post_update(client, update) == 200  # a duplicate of it: skipped
    assert texts(fake.sent_messages(USER)) == [ASK_PASS, ASK_ID]


async def test_an_outage_after_the_claim_releases_it_so_the_retry_is_answered(
    client: AppClient, fake: FakeTelegram, db_path: Path, requests: RequestTasks
) -> None:
    assert await post_update(client, message_update(1, USER, "/verify")) == 200
    update = message_update(2, USER, PASS_NO)
    lock = WriteLock(db_path)
    # The outage starts as the turn begins (the claim is committed) and is over by the
    # time the claim is released.
    outage = LockAtCheckout(lock, requests.serving, take_at=2, drop_at=3)
    pool = services_of(client).engine.sync_engine.pool
    event.listen(pool, "checkout", outage)
    try:
        status = await post_update(client, update)
    finally:
        event.remove(pool, "checkout", outage)
        lock.close()

    assert (status, outage.checkouts) == (503, 3)
    assert "2" not in await claimed(client)
    assert texts(fake.sent_messages(USER)) == [ASK_PASS]
    assert await post_update(client, update) == 200
    assert texts(fake.sent_messages(USER)) == [ASK_PASS, ASK_ID]


async def test_when_the_claim_cannot_be_released_the_user_is_told(
    client: AppClient,
    fake: FakeTelegram,
    db_path: Path,
    requests: RequestTasks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await post_update(client, message_update(1, USER, "/verify")) == 200
    lock = WriteLock(db_path)
    outage = LockAtCheckout(lock, requests.serving, take_at=2)  # lasts past the release
    pool = services_of(client).engine.sync_engine.pool
    event.listen(pool, "checkout", outage)
    try:
        with caplog.at_level(logging.INFO):
            status = await post_update(client, message_update(2, USER, PASS_NO))
    finally:
        event.remove(pool, "checkout", outage)
        lock.close()

    assert status == 200  # a retry would be skipped as seen: no use asking for one
    assert texts(fake.sent_messages(USER)) == [ASK_PASS, SORRY]
    assert "telegram update 2: claim not released (OperationalError)" in caplog.text
