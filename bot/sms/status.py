"""``POST /sms/status``: Twilio's delivery status callbacks for the SMS we sent.

Each SMS is sent with ``StatusCallback=<public_base_url>/sms/status``; Twilio posts
``queued``, ``sent``, ``delivered``, ``undelivered`` or ``failed`` (with an
``ErrorCode``) there, and the outbox row with that ``MessageSid`` records it.

Authenticity before anything else, as for every Twilio webhook: size and
signature (with the algorithm Twilio's signature-settings header names) are checked by
:mod:`bot.sms.signature`, the code path ``/sms/inbound`` uses too. Without a token
every callback is refused (403).

``undelivered`` or ``failed`` for a verification SMS releases its request, so the
holder may ask again at once, and a Telegram chat that asked is told.

A database that cannot record the status gets 503, as for the inbound webhook.
An unknown ``MessageSid`` still gets a 2xx answer, so Twilio does not keep retrying
it (a callback can outrun the commit that stored the sid; such a status is lost, and
a later one is recorded).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from bot.background.failure_notices import FAILURE_NOTICES
from bot.services import SERVICES
from bot.sms.signature import TWILIO_SIGNATURE
from storage.errors import is_storage_failure
from storage.outbox.queue import KNOWN_STATUSES, NOT_DELIVERED, OutboxQueue

log = logging.getLogger(__name__)

PATH = "/sms/status"
_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
_ERROR_CODE = re.compile(r"^[0-9]{1,6}$")


async def status_callback(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    form = await request.app[TWILIO_SIGNATURE].signed_form(request)
    if form is None:
        log.warning("status callback refused: missing or wrong X-Twilio-Signature")
        raise web.HTTPForbidden()

    sid, status = form.get("MessageSid"), form.get("MessageStatus")
    if not sid or not _SID.match(sid) or status is None:
        log.warning("status callback without a usable MessageSid or MessageStatus")
        raise web.HTTPBadRequest()
    if status not in KNOWN_STATUSES:
        log.info("status callback for %s: status %r ignored", sid, status[:32])
        return web.Response(status=204)
    code = form.get("ErrorCode")
    error_code = code if code and _ERROR_CODE.match(code) else None
    queue = OutboxQueue(services.engine)
    try:
        known = await queue.record_status(sid, status, error_code, services.clock.now())
    except Exception as error:
        if not is_storage_failure(error):
            raise
        # As the inbound webhook does: 503 for a status the database could not take;
        # nothing of it was kept (nor counted in the metrics), so a retry counts once.
        log.error("status callback for %s not stored, answered 503: %s", sid, type(error).__name__)
        log.debug("status callback for %s not stored", sid, exc_info=True)
        return web.Response(status=503)
    services.metrics.delivery_status(status, error_code)
    if not known:
        log.warning("status callback for unknown message %s (%s)", sid, status)
        return web.Response(status=200)
    log.info("sms %s: %s%s", sid, status, f" (error {error_code})" if error_code else "")
    notices = request.app.get(FAILURE_NOTICES)
    if status in NOT_DELIVERED and notices is not None:
        notices.wake()  # a Telegram chat may be waiting for a code that will not come
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, status_callback)
