"""A database outage while Twilio delivers an inbound SMS: the webhook answers 503 with
no body, so Twilio may deliver it again; the retry, once the database is back, gets the
proper answer, and nothing of the failed turn was kept.

The outage is real: a second connection holds SQLite's write lock (tests/e2e/outage.py).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config, load_config
from storage.tables import conversations, inbound_messages, verification_requests
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.outage import database_locked, database_url
from tests.e2e.sms.test_sms_inbound import HOLDER, Handset, count, messages_in, sms_to

PASS_NO, ID_NO = "KHPS113-000043", "QQ12345673"
SENT = [
    ("驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，或點簡訊中的連結完成驗證（24小時內有效）。")
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "portpass.db"


@pytest.fixture
def config(config_env: dict[str, str], tmp_path: Path, db_path: Path) -> Config:
    env = config_env | {"PORTPASS_DATABASE_URL": database_url(db_path)}
    return load_config(None, env, cwd=tmp_path)


@pytest.fixture
def phone(client: AppClient) -> Handset:
    return Handset(client)


async def stored_sids(client: AppClient) -> set[str]:
    async with services_of(client).engine.connect() as conn:
        return set((await conn.execute(select(inbound_messages.c.message_id))).scalars())


async def conversation_state(client: AppClient) -> str | None:
    query = select(conversations.c.state).where(conversations.c.key == f"sms:{HOLDER}")
    async with services_of(client).engine.connect() as conn:
        return (await conn.execute(query)).scalar_one_or_none()


async def test_a_database_outage_answers_503_and_twilios_retry_gets_the_answer(
    client: AppClient, phone: Handset, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await phone.say("驗證", PASS_NO, ID_NO)  # the confirmation question is open
    before = await conversation_state(client)
    sid = f"SM{uuid.uuid4().hex}"
    confirm = phone.form("1", sid)

    with caplog.at_level(logging.INFO):
        async with database_locked(db_path):
            during = await phone.post(confirm)
            body = await during.read()

    assert (during.status, body) == (503, b"")
    # Nothing of the turn was kept.
    assert sid not in await stored_sids(client)
    assert await conversation_state(client) == before
    assert await sms_to(client) == []
    assert await count(client, verification_requests) == 0
    assert f"inbound SMS {sid} not stored, answered 503 for a retry: OperationalError" in (
        caplog.text
    )
    retry = await phone.post(confirm)  # Twilio's retry: the same MessageSid and body
    assert retry.status == 200
    assert messages_in(await retry.text()) == SENT
    assert len(await sms_to(client)) == 1
    again = await phone.post(confirm)  # and a retry of that is answered, not acted on
    assert messages_in(await again.text()) == SENT
    assert len(await sms_to(client)) == 1
    assert await count(client, verification_requests) == 1
