"""``POST /sms/inbound``: Twilio's webhook for an SMS sent to our number.

The order matters. Size first (413), then authenticity (403): nothing from the body is
trusted, logged or acted on before ``X-Twilio-Signature`` checks out. Then the fields
(400), then the sender: anything but a mobile of ``phone.allowed_regions`` gets an empty
answer, no SMS (:mod:`bot.sms.sender_filter`). Then de-duplication, because Twilio
retries a webhook that timed out and a retried wrong code must not count twice, nor a
retried "1" send a second SMS. Only then does the message reach the conversation
engine, as a checked phone and a ``Text``.

Size and signature are checked as for every Twilio webhook, in :mod:`bot.sms.signature`.

A turn the database could not store is answered 503 with no body, so Twilio may try
again; the de-duplication makes that safe.

Logs carry the MessageSid and the masked phone only; bodies hold codes and ID numbers.
"""

from __future__ import annotations

import logging

from aiohttp import web
from twilio.request_validator import SIGNATURE_HEADER

from bot.services import SERVICES, Services
from bot.sms.sender_filter import DROPPED_SENDERS, DroppedSenders
from bot.sms.signature import TWILIO_SIGNATURE
from bot.sms.twiml import replies_twiml, twiml
from core import messages
from core.conversation.state import Participant, Text
from core.errors import InvalidInput
from core.masking import mask_phone
from core.values import Phone
from core.verification.sms_text import MAX_REPLY_SEGMENTS
from storage.errors import is_storage_failure

log = logging.getLogger(__name__)

PATH = "/sms/inbound"
CHANNEL = "sms"
_TWIML = "text/xml"


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, inbound_sms)
    app[DROPPED_SENDERS] = DroppedSenders()


# --- the handler --------------------------------------------------------------------------


async def inbound_sms(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    signature = request.app[TWILIO_SIGNATURE]
    if signature.validator is None:
        log.warning("inbound SMS refused (503): twilio.auth_token is required for inbound SMS")
        return web.Response(status=503, text="inbound SMS needs twilio.auth_token\n")
    form = await signature.signed_form(request)
    if form is None:
        log.warning("inbound SMS refused (403): missing or wrong %s", SIGNATURE_HEADER)
        return web.Response(status=403, text="signature required\n")
    sid, sender, text = form.get("MessageSid"), form.get("From"), form.get("Body")
    if not sid or not sender or text is None:
        log.warning("inbound SMS refused (400): MessageSid, From or Body missing")
        return web.Response(status=400, text="MessageSid, From and Body are required\n")
    try:
        phone = Phone.parse(sender, regions=services.config.phone.allowed_regions)
    except InvalidInput as why:  # no SMS back: see bot/sms/sender_filter.py
        request.app[DROPPED_SENDERS].drop(sid, sender, why)
        services.metrics.note_inbound("refused_region")
        return _twiml_response(twiml([]))
    return await _answer_once(services, sid, phone, text)


async def _answer_once(services: Services, sid: str, phone: Phone, text: str) -> web.Response:
    """The TwiML for this message. The engine acts on a MessageSid once, in the same
    transaction as the turn: a retry gets the first answer, and a turn that failed
    leaves nothing behind, so Twilio's retry is handled afresh. When the database could
    not store the turn the answer is 503 with no body: Twilio may deliver the message
    again, and says nothing to the holder meanwhile."""
    who = Participant(
        key=f"{CHANNEL}:{phone.e164}",
        channel=CHANNEL,
        actor=mask_phone(phone),
        phone=phone.e164,
        max_segments=MAX_REPLY_SEGMENTS,
    )
    try:
        turn = await services.conversations.handle(who, Text(text), message_id=sid)
    except Exception as error:
        if is_storage_failure(error):
            _log_failure(sid, "not stored, answered 503 for a retry", error)
            return web.Response(status=503)
        # A bug, which a retry would only repeat: the holder hears something.
        _log_failure(sid, "failed", error)
        services.metrics.note_inbound("error")
        default = services.config.verification.default_language
        return _twiml_response(twiml([messages.text("error.generic", default)]))
    if turn.repeated:
        services.metrics.note_inbound("duplicate")
    log.info("inbound SMS %s from %s: %d replies", sid, who.actor, len(turn.replies))
    return _twiml_response(replies_twiml(turn.replies, turn.language))


def _log_failure(sid: str, what: str, error: Exception) -> None:
    """Driver errors can quote SQL parameters (phones, ID numbers, replies): the type
    only at ERROR, the traceback at DEBUG for whoever asks for it."""
    log.error("inbound SMS %s %s: %s", sid, what, type(error).__name__)
    log.debug("inbound SMS %s %s", sid, what, exc_info=True)


def _twiml_response(xml: str) -> web.Response:
    return web.Response(text=xml, content_type=_TWIML, charset="utf-8")
