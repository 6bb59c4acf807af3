"""``POST /api/v1/notices``: the gate system reports events (a pass suspended, an
abnormal record, a pass reinstated) and each becomes a notice (:mod:`core.notices.service`).

The order matters, as for the webhooks: authentication first (401, nothing read),
then the size (413, from ``Content-Length`` or while reading), then the JSON (400, for
anything :func:`bot.json_body.parse_json` refuses: too deep, a 5,000-digit number),
then the events (422 listing every problem, nothing stored), and only then the
notices; a database that cannot store them gets 503 with ``Retry-After`` (nothing
stored, the same batch may be sent again).

The bearer token is never stored or logged: the config holds SHA-256 digests of the
accepted tokens (``notices.api_token_sha256``), and the token presented is hashed and
compared to each in constant time.

Body: one event object, a JSON array of them, or ``{"events": [...]}``; at most
10,000 events. Answer 200: ``{"accepted": N, "duplicates": M, "results": [...]}``,
one result per event in order (``duplicate`` true for an ``event_id`` already stored:
its first result again). Errors: ``{"error": code, "message": 中文, "message_en":
English}``, and for 422 ``"errors": [{"index", "event_id", "field", "code",
"message", "message_en"}, …]`` (the first 1,000).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.json_body import BadJson, parse_json
from bot.notices.delivery import NOTICE_MESSENGER
from bot.services import CONFIG, SERVICES
from core import messages
from core.model import Channel
from core.notices.events import EventProblem, InvalidEvents, TooManyEvents
from core.notices.records import NoticeResult, Source
from storage.errors import is_storage_failure

log = logging.getLogger(__name__)

PATH = "/api/v1/notices"
ACTOR = "api:notices"
MAX_ERRORS = 1000
#: What a 503 asks the gate system to wait before it sends the batch again.
RETRY_AFTER_SECONDS = 30
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def setup(app: web.Application) -> None:
    if not app[CONFIG].notices.api_token_sha256:
        log.info("the notices API is off (no notices.api_token_sha256)")
        return
    app.router.add_post(PATH, post_notices)


def token_digest(token: str) -> str:
    """What the config holds for ``token``: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _authorised(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    given = token_digest(token).encode()
    # Compare with every configured digest, without stopping at a match.
    matches = [
        hmac.compare_digest(given, expected.encode())
        for expected in request.app[CONFIG].notices.api_token_sha256
    ]
    return any(matches)


def _error(status: int, code: str, key: str, **params: object) -> web.Response:
    body = {
        "error": code,
        "message": messages.text(key, messages.ZH, **params),
        "message_en": messages.text(key, messages.EN, **params),
    }
    headers = dict(_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="portpass"'
    return web.json_response(body, status=status, headers=headers)


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is over ``limit`` bytes (read no further than that)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _items(document: object) -> list[object] | None:
    """The events of the body's three accepted shapes; ``None`` for any other shape."""
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping):
        if set(document) == {"events"} and isinstance(document["events"], list):
            return list(document["events"])
        if "event_id" in document:
            return [document]
    return None


async def post_notices(request: web.Request) -> web.Response:
    if not _authorised(request):
        log.warning("notices API: request refused (no valid bearer token)")
        return _error(401, "unauthorized", "notice.api.unauthorized")
    limit = request.app[CONFIG].notices.max_body_bytes
    body = await _read_body(request, limit)
    if body is None:
        return _error(413, "too_large", "notice.api.too_large", limit=f"{limit:,}")
    try:
        document = parse_json(body)
    except BadJson as error:
        return _error(400, "malformed", "notice.api.malformed", problem=error.problem)
    items = _items(document)
    if items is None:
        return _error(400, "bad_shape", "notice.api.shape")
    services = request.app[SERVICES]
    try:
        results = await services.notices.receive(
            items, source=Source.API, actor=ACTOR, channel=Channel.WEB
        )
    except TooManyEvents as error:
        return _error(422, "too_many", error.key, **error.params())
    except InvalidEvents as error:
        return _invalid(error)
    except Exception as error:
        if not is_storage_failure(error):
            raise
        # All or nothing (core.notices.service): nothing was stored, and a resend is
        # safe, since an event_id already stored is answered, not stored again.
        log.error("notices API: not stored, answered 503: %s", type(error).__name__)
        log.debug("notices API: not stored", exc_info=True)
        response = _error(503, "unavailable", "notice.api.unavailable")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    messenger = request.app.get(NOTICE_MESSENGER)  # while Telegram is on
    if any(not result.duplicate for result in results) and messenger is not None:
        messenger.wake()
    accepted = sum(1 for result in results if not result.duplicate)
    log.info("notices API: %d accepted, %d duplicates", accepted, len(results) - accepted)
    return web.json_response(
        {
            "accepted": accepted,
            "duplicates": len(results) - accepted,
            "results": [_result(result) for result in results],
        },
        headers=_HEADERS,
    )


def _result(result: NoticeResult) -> dict[str, Any]:
    return {
        "event_id": result.event_id,
        "notice_id": result.notice_id,
        "pass_no": result.pass_no.value,
        "kind": result.kind.value,
        "reach": result.reach.value,
        "reason": result.reason.value if result.reason else None,
        "telegram_chats": result.telegram_chats,
        "duplicate": result.duplicate,
    }


def _problem(index: int, event_id: str | None, problem: EventProblem) -> dict[str, Any]:
    return {
        "index": index,
        "event_id": event_id,
        "field": problem.field,
        "code": problem.key.rpartition(".")[2],
        "message": messages.text(problem.key, messages.ZH, **problem.params),
        "message_en": messages.text(problem.key, messages.EN, **problem.params),
    }


def _invalid(error: InvalidEvents) -> web.Response:
    listed = [
        _problem(rejected.position, rejected.event_id, problem)
        for rejected in error.rejected
        for problem in rejected.problems
    ]
    body: dict[str, Any] = {
        "error": "invalid_events",
        "message": messages.render_error(error, messages.ZH),
        "message_en": messages.render_error(error, messages.EN),
        "errors": listed[:MAX_ERRORS],
    }
    if len(listed) > MAX_ERRORS:
        body["errors_omitted"] = len(listed) - MAX_ERRORS
    log.info("notices API: %d invalid events, nothing stored", len(error.rejected))
    return web.json_response(body, status=422, headers=_HEADERS)
