"""A database outage answers 503 everywhere, as the webhooks do, never 500: the link
page (its GET and its confirm), Twilio's status callback and the notices API. Each
says what happened in the way its reader reads (a page, an empty body, JSON), asks
for a retry with ``Retry-After`` where a person or a program waits, and leaves
nothing half-written.

The outage is real: a second connection holds SQLite's write lock (tests/e2e/outage.py).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from bot.config import Config, load_config
from core.model import Status
from storage.tables import notices
from tests.e2e.conftest import PUBLIC_BASE_URL, TWILIO_TOKEN, AppClient, services_of
from tests.e2e.outage import database_locked, database_url
from tests.e2e.web.test_link_page import ZH_PAGE, form_tag, issue_link, open_page, status

API_TOKEN = "gate-system-token-outage-0123456789"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "portpass.db"


@pytest.fixture
def config(config_env: dict[str, str], tmp_path: Path, db_path: Path) -> Config:
    env = config_env | {
        "PORTPASS_DATABASE_URL": database_url(db_path),
        "PORTPASS_NOTICES_API_TOKEN_SHA256": hashlib.sha256(API_TOKEN.encode()).hexdigest(),
    }
    return load_config(None, env, cwd=tmp_path)


async def test_a_database_outage_gets_503_not_500_on_the_link_page(
    client: AppClient, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    with caplog.at_level(logging.INFO):
        async with database_locked(db_path):
            shown = await client.get(path, headers=ZH_PAGE)
            shown_page = await shown.text()
            confirmed = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
            confirmed_page = await confirmed.text()
    for response, page in ((shown, shown_page), (confirmed, confirmed_page)):
        assert response.status == 503
        assert response.headers["Retry-After"] == "30"
        assert response.headers["Content-Type"].startswith("text/html")
        assert "系統暫時無法處理您的驗證" in page and "請於一分鐘後再開啟簡訊中的連結" in page
    assert "link page answered 503, database unavailable: OperationalError" in caplog.text
    assert await status(client) is Status.UNVERIFIED  # nothing was verified
    # Once the database is back, the same link and form verify.
    assert (await client.post(path, data={"tag": tag})).status == 200
    assert await status(client) is Status.VERIFIED


async def test_a_database_outage_gets_503_not_500_on_the_status_callback(
    client: AppClient, db_path: Path
) -> None:
    form = {"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "delivered"}
    url = PUBLIC_BASE_URL + "/sms/status"
    headers = {SIGNATURE_HEADER: RequestValidator(TWILIO_TOKEN).compute_signature(url, form)}
    async with database_locked(db_path):
        during = await client.post("/sms/status", data=form, headers=headers)
        assert (during.status, await during.read()) == (503, b"")
    after = await client.post("/sms/status", data=form, headers=headers)
    assert after.status == 200  # an unknown sid: answered, so Twilio stops


async def test_a_database_outage_gets_503_not_500_on_the_notices_api(
    client: AppClient, db_path: Path
) -> None:
    event = {
        "event_id": "outage-1",
        "pass_no": "KHPS113-000047",
        "kind": "suspended_inactive",
        "occurred_at": "2026-11-26T08:30:00+08:00",
    }
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with database_locked(db_path):
        during = await client.post("/api/v1/notices", json=[event], headers=headers)
        assert during.status == 503
        assert during.headers["Retry-After"] == "30"
        answer = await during.json()
    assert answer["error"] == "unavailable"
    assert "沒有儲存" in answer["message"] and "none of these notices" in answer["message_en"]
    async with services_of(client).engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(notices))).scalar_one() == 0
    again = await client.post("/api/v1/notices", json=[event], headers=headers)
    assert again.status == 200
    assert (await again.json())["accepted"] == 1
