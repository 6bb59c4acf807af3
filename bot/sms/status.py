"""``POST /sms/status``: Twilio's delivery status callbacks for the SMS we sent.

Each SMS is sent with ``StatusCallback=<public_base_url>/sms/status``; Twilio posts
``queued``, ``sent``, ``delivered``, ``undelivered`` or ``failed`` (with an
``ErrorCode``) there, and the outbox row with that ``MessageSid`` records it.

Authenticity before anything else (STYLE §6): the ``X-Twilio-Signature`` is checked
with the ``twilio`` package's ``RequestValidator`` over the URL Twilio called, which
is ``server.public_base_url`` plus the path: behind a reverse proxy ``request.url`` is
the proxy's address, not what Twilio signed. The form must be read to check the
signature (its fields are signed), but none of it is used until the check passes.
Without a configured auth token every callback is refused: a signature keyed by an
empty token is one anybody can make.

An unknown ``MessageSid`` still gets a 2xx answer, so Twilio does not keep retrying
it (a callback can outrun the commit that stored the sid; such a status is lost, and
a later one is recorded).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.services import SERVICES
from storage.outbox import KNOWN_STATUSES, OutboxQueue

log = logging.getLogger(__name__)

PATH = "/sms/status"
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,6}$")


async def status_callback(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    config = services.config
    limit = config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    # Reads at most client_max_size (server.max_body_bytes) bytes, else answers 413.
    form = await request.post()
    signature = request.headers.get("X-Twilio-Signature", "")
    token = config.twilio.auth_token.reveal()
    url = config.server.public_base_url + request.path_qs
    if (
        not token
        or not signature
        or not all(isinstance(value, str) for value in form.values())  # Twilio posts no files
        or not RequestValidator(token).validate(url, form, signature)
    ):
        log.warning("status callback refused: missing or wrong X-Twilio-Signature")
        raise web.HTTPForbidden()

    sid, status = form.get("MessageSid"), form.get("MessageStatus")
    if not isinstance(sid, str) or not _SID.match(sid) or not isinstance(status, str):
        log.warning("status callback without a usable MessageSid or MessageStatus")
        raise web.HTTPBadRequest()
    if status not in KNOWN_STATUSES:
        log.info("status callback for %s: status %r ignored", sid, status[:32])
        return web.Response(status=204)
    code = form.get("ErrorCode")
    error_code = code if isinstance(code, str) and _ERROR_CODE.match(code) else None
    queue = OutboxQueue(services.engine)
    if not await queue.record_status(sid, status, error_code, services.clock.now()):
        log.warning("status callback for unknown message %s (%s)", sid, status)
        return web.Response(status=200)
    log.info("sms %s: %s%s", sid, status, f" (error {error_code})" if error_code else "")
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, status_callback)
