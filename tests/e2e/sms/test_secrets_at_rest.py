"""A live code or link token cannot be read from the database, its
WAL or a copy of them without the secret key.

Anyone who can read ``portpass.db`` (a backup, a support copy, a second account on
the host) must not be able to verify a pending pass with what they find. The app
runs as ``portpass serve`` does, sending through the official twilio client to
FakeTwilio; the database is then opened read-only from outside, as such a reader
would, and every table and the raw bytes of the files are searched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.config import Config
from bot.services import Services
from core.values import PassNumber
from core.verification.wording import SmsWording
from fakes.clock import FakeClock
from fakes.secrets import FixedSecrets
from fakes.twilio_api import FakeTwilio, Fault
from storage.outbox.queue import OutboxQueue, QueuedSms
from tests.e2e.conftest import PUBLIC_BASE_URL
from tests.e2e.sms.test_outbox_worker import (
    MakeClient,
    request_code,
    retry_now,
    row_where,
    start,
)

# Chosen so that they cannot occur anywhere else in the database by chance.
CODE = "738291"
TOKEN = "Qz7RkVw2JmXa"


def readable_secrets(database: Path) -> list[str]:
    """Where CODE or TOKEN can be read: ``table.column`` of any row, opened read-only
    as an outsider would, then the raw bytes of the database and its WAL."""
    found = []
    uri = f"file:{database}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        tables = [
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    if CODE in text or TOKEN in text:
                        found.append(f"{table}.{column}")
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            raw = path.read_bytes()
            found += [f"{path.name} bytes" for s in (CODE, TOKEN) if s.encode() in raw]
    return found


def wal_exists(database: Path) -> bool:
    return Path(f"{database}-wal").exists()


def database_of(config: Config) -> Path:
    assert config.sqlite_path is not None
    return config.sqlite_path


async def queued_row(services: Services) -> QueuedSms:
    async with services.uow() as uow:
        [row] = await uow.outbox.pending()
    return row


async def test_a_live_code_and_link_token_cannot_be_read_from_the_database_or_its_wal(
    make_client: MakeClient, twilio_config: Config, fake: FakeTwilio, clock: FakeClock
) -> None:
    _, services, worker = await start(
        make_client, twilio_config, secrets=FixedSecrets([CODE], [TOKEN])
    )
    fake.fail_next(Fault.server_error())  # Twilio is down: the SMS waits in the outbox

    await request_code(services)
    row = await row_where(services, state="pending", attempts=1)
    assert wal_exists(database_of(twilio_config))  # the probe reads it too

    # The SMS Twilio was handed carries both, so the holder can use them ...
    assert f"驗證碼{CODE}" in fake.requests[0]["Body"]
    assert f"{PUBLIC_BASE_URL}/v/{TOKEN}" in fake.requests[0]["Body"]
    # ... the database holds neither, anywhere, while the code is live,
    assert readable_secrets(database_of(twilio_config)) == []
    masked_link = f"{PUBLIC_BASE_URL}/v/" + "●" * 12
    assert row.body == SmsWording().verification(
        "zh-TW", last4=PassNumber("KHPS113-000040").last4, code="●" * 6, link=masked_link
    )
    # ... and only the secret key opens what the worker will send.
    queued = await queued_row(services)
    assert queued.sealed is not None
    opened = OutboxQueue(services.engine, services.sealer).readable_body(queued)
    assert fake.requests[0]["Body"] == opened  # signed when written (the sender name first)

    await retry_now(clock, worker, row)
    row = await row_where(services, state="sent")

    assert [m["body"] for m in fake.messages] == [fake.requests[0]["Body"]]
    # Accepted: the sealed copy is gone, the redacted text stays for support.
    assert row.sealed is None and "●●●●●●" in row.body
    assert readable_secrets(database_of(twilio_config)) == []


def test_the_scan_finds_a_code_written_in_clear(tmp_path: Path) -> None:
    """The probe itself works: a database that does hold the code is caught."""
    database = tmp_path / "leaky.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE outbox (body TEXT)")
        conn.execute("INSERT INTO outbox VALUES (?)", (f"驗證碼{CODE} /v/{TOKEN}",))
    assert "outbox.body" in readable_secrets(database)
