"""``POST /api/v1/notices`` as the gate system calls it, over real HTTP into the app,
with the demo registry: KHPS113-000047 verified at 0960123411, KHPS113-000043
unverified, KHPS111-000014 pending."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Config, load_config
from storage.tables import audit_log, notices, outbox
from tests.e2e.conftest import AppClient, services_of

TOKEN = "gate-system-token-Zq8u2W1pL0aT5nVb"
OTHER_TOKEN = "rotated-token-Hh3kR9sQ2xY7mN4c"
PATH = "/api/v1/notices"
VERIFIED_E164 = "+886960123411"
SMS_0047 = (
    "【港務】港區通行證末四碼0047因逾六個月未進出，已於2026/11/26停用。請洽所屬公司業者申請人"
)

JSON = dict[str, Any]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def config(config_env: dict[str, str], tmp_path: Path) -> Config:
    env = config_env | {
        "PORTPASS_NOTICES_API_TOKEN_SHA256": f"{digest(TOKEN)},{digest(OTHER_TOKEN)}",
        "PORTPASS_NOTICES_MAX_BODY_BYTES": str(2 * 1024 * 1024),
    }
    return load_config(None, env, cwd=tmp_path)


def event(event_id: str, pass_no: str = "KHPS113-000047", **changes: object) -> JSON:  # noqa: S107
    return {
        "event_id": event_id,
        "pass_no": pass_no,
        "kind": "suspended_inactive",
        "occurred_at": "2026-11-26T08:30:00+08:00",
        **changes,
    }


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(client: AppClient, body: object, token: str | None = TOKEN) -> tuple[int, JSON]:
    headers = bearer(token) if token is not None else {}
    headers["Content-Type"] = "application/json"
    # A file-like body: aiohttp streams it instead of warning about a large bytes body.
    data = io.BytesIO(json.dumps(body).encode())
    response = await client.post(PATH, data=data, headers=headers)
    return response.status, await response.json()


async def stored(client: AppClient, table=notices) -> int:
    async with services_of(client).engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {digest(TOKEN)}"},  # the digest itself is no token
    ],
    ids=["none", "wrong", "not-bearer", "empty", "the-digest"],
)
async def test_without_a_valid_token_nothing_is_read_or_stored(
    client: AppClient, headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json=[event("e1")], headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="portpass"'
    body = await response.json()
    assert body["error"] == "unauthorized"
    assert body["message"].startswith("需要有效的存取權杖")
    assert "Authorization: Bearer TOKEN" in body["message_en"]
    assert await stored(client) == 0


async def test_either_configured_token_is_accepted_for_rotation(client: AppClient) -> None:
    assert (await post(client, event("e1"), OTHER_TOKEN))[0] == 200
    assert (await post(client, event("e2"), TOKEN))[0] == 200


async def test_the_api_is_off_without_a_configured_digest(
    make_client: Callable[..., Awaitable[AppClient]], config_env: dict[str, str], tmp_path: Path
) -> None:
    client = await make_client(load_config(None, config_env, cwd=tmp_path))
    response = await client.post(PATH, json=[event("e1")], headers=bearer())
    assert response.status == 404


# --- delivery -------------------------------------------------------------------------------


async def test_a_verified_pass_gets_the_sms_in_one_segment(client: AppClient) -> None:
    status, body = await post(client, event("gate-0001"))
    assert status == 200
    assert body["accepted"] == 1 and body["duplicates"] == 0
    [result] = body["results"]
    assert result == {
        "event_id": "gate-0001",
        "notice_id": result["notice_id"],
        "pass_no": "KHPS113-000047",
        "kind": "suspended_inactive",
        "reach": "sms",
        "reason": None,
        "telegram_chats": 0,
        "duplicate": False,
    }
    async with services_of(client).engine.connect() as conn:
        rows = (await conn.execute(select(outbox.c.to_phone, outbox.c.body, outbox.c.kind))).all()
    assert rows == [(VERIFIED_E164, SMS_0047, "notice")]
    assert len(SMS_0047) <= 70


@pytest.mark.parametrize(
    ("pass_no", "reason"),
    [("KHPS113-000043", "unverified"), ("KHPS111-000014", "pending")],
)
async def test_an_unverified_or_pending_pass_is_stored_unreachable(
    client: AppClient, pass_no: str, reason: str
) -> None:
    status, body = await post(client, {"events": [event("e1", pass_no)]})
    assert status == 200
    assert (body["results"][0]["reach"], body["results"][0]["reason"]) == ("unreachable", reason)
    assert await stored(client, outbox) == 0
    assert await stored(client) == 1


async def test_every_notice_is_in_the_audit_log_masked(client: AppClient) -> None:
    await post(client, [event("e1"), event("e2", "KHPS113-000043", kind="abnormal_record")])
    async with services_of(client).engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.subject, audit_log.c.detail).where(
                    audit_log.c.action == "notice"
                )
            )
        ).all()
    assert [(actor, subject) for actor, subject, _ in rows] == [
        ("api:notices", "KHPS113-**0047"),
        ("api:notices", "KHPS113-**0043"),
    ]
    assert '"reason": "unverified"' in rows[1][2]
    assert all("0960" not in detail and "QQ1" not in detail for _, _, detail in rows)


# --- idempotency ----------------------------------------------------------------------------


async def test_the_same_event_id_is_accepted_once_and_answered_with_the_first_result(
    client: AppClient,
) -> None:
    _, first = await post(client, event("gate-7"))
    status, again = await post(client, event("gate-7", kind="reinstated"))
    assert status == 200
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["results"][0] == first["results"][0] | {"duplicate": True}
    assert await stored(client) == 1
    assert await stored(client, outbox) == 1


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'[{"event_id": "e1",', "malformed"),
        (b"\xff\xfe[]", "malformed"),
        (b'"events"', "bad_shape"),
        (b'{"events": {"event_id": "e1"}}', "bad_shape"),
        (b'{"items": []}', "bad_shape"),
    ],
    ids=["truncated", "not-utf8", "a-string", "events-not-a-list", "other-object"],
)
async def test_a_body_that_is_not_events_gets_400_saying_what_to_send(
    client: AppClient, body: bytes, code: str
) -> None:
    response = await client.post(
        PATH, data=body, headers=bearer() | {"Content-Type": "application/json"}
    )
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == code
    assert answer["message"] and answer["message_en"]
    assert await stored(client) == 0


async def test_malformed_json_says_where(client: AppClient) -> None:
    response = await client.post(PATH, data=b'[{"event_id": "e1",]', headers=bearer())
    answer = await response.json()
    assert "line 1 column 20" in answer["message_en"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" * 20_000 + b"]" * 20_000, "nested more than 64 levels deep"),
        (b'{"events": ' + b"[" * 100 + b"]" * 100 + b"}", "nested more than 64 levels deep"),
        (b"[" + b"7" * 5_000 + b"]", "a number with too many digits"),
        (
            b'[{"event_id": "e1", "pass_no": "KHPS113-000047", "detail": ' + b"9" * 5_000 + b"}]",
            "a number with too many digits",
        ),
    ],
    ids=["nested-20000-deep", "nested-100-deep", "5000-digit-number", "5000-digits-in-a-field"],
)
async def test_hostile_json_gets_400_not_500(client: AppClient, body: bytes, problem: str) -> None:
    """JSON that breaks ``json.loads`` in ways other than bad syntax (a RecursionError,
    Python's 4,300-digit guard) is bad input, answered like any malformed body."""
    response = await client.post(
        PATH, data=body, headers=bearer() | {"Content-Type": "application/json"}
    )
    assert response.status == 400
    answer = await response.json()
    assert answer["error"] == "malformed"
    assert problem in answer["message_en"] and problem in answer["message"]
    assert await stored(client) == 0


async def test_invalid_items_get_422_with_every_problem_and_nothing_is_stored(
    client: AppClient,
) -> None:
    status, body = await post(
        client,
        [
            event("ok-1"),
            event("bad-kind", kind="stolen"),
            event("bad-pass", "KHPS113-999999"),
            event("bad-date", occurred_at="2026-02-30"),
            event("ok-2", "KHPS113-000043"),
        ],
    )
    assert status == 422
    assert body["error"] == "invalid_events"
    assert body["message"] == "3 筆通知資料有誤，所有通知都沒有儲存。請修正後重新送出。"
    assert [(e["index"], e["event_id"], e["field"], e["code"]) for e in body["errors"]] == [
        (1, "bad-kind", "kind", "kind"),
        (2, "bad-pass", "pass_no", "unknown_pass"),
        (3, "bad-date", "occurred_at", "occurred_at"),
    ]
    assert body["errors"][0]["message_en"] == (
        "kind must be one of: suspended_inactive, abnormal_record, suspended_abnormal, "
        "reinstated (got stolen)."
    )
    assert body["errors"][1]["message"] == "查無通行證 KHPS113-999999。"
    for table in (notices, outbox, audit_log):
        assert await stored(client, table) == 0


async def test_ten_thousand_events_are_accepted_in_one_request(client: AppClient) -> None:
    passes = ["KHPS113-000047", "KHPS113-000043", "KHPS111-000014", "TCPS113-000101"]
    batch = [event(f"bulk-{n:05d}", passes[n % 4]) for n in range(10_000)]
    status, body = await post(client, batch)
    assert status == 200
    assert (body["accepted"], len(body["results"])) == (10_000, 10_000)
    assert await stored(client) == 10_000
    assert await stored(client, outbox) == 2_500  # only the verified pass is texted


async def test_more_than_ten_thousand_events_are_refused(client: AppClient) -> None:
    batch = [{"event_id": str(n)} for n in range(10_001)]
    status, body = await post(client, batch)
    assert status == 422
    assert body["error"] == "too_many"
    assert body["message_en"] == (
        "At most 10,000 events at a time; got 10,001. Please send them in batches."
    )


async def test_a_body_over_the_limit_gets_413(client: AppClient) -> None:
    big = [event(f"e{n}", detail="x" * 500) for n in range(4_000)]  # about 2.5 MB
    status, body = await post(client, big)
    assert status == 413
    assert body["error"] == "too_large"
    assert "2,097,152" in body["message_en"]
    assert await stored(client) == 0


async def test_a_chunked_body_over_the_limit_gets_413_too(client: AppClient) -> None:
    async def chunks():
        yield b"["
        for n in range(4_000):
            yield (b"," if n else b"") + b'{"event_id": "e%d", "detail": "%s"}' % (n, b"x" * 500)
        yield b"]"

    response = await client.post(PATH, data=chunks(), headers=bearer())
    assert response.status == 413
    assert await stored(client) == 0


# --- secrets --------------------------------------------------------------------------------


async def test_the_token_is_in_no_log_line(
    client: AppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await post(client, event("e1"))
    await post(client, event("e2"), token=TOKEN + "x")
    await post(client, [event("e3", kind="stolen")])
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    assert "notices API" in logged  # the requests were logged ...
    for secret in (TOKEN, TOKEN + "x", digest(TOKEN)):
        assert secret not in logged  # ... without the token
