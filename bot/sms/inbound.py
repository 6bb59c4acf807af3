"""``POST /sms/inbound``: Twilio's webhook for an SMS sent to our number.

The order matters. Size first (413), then authenticity (403): nothing from the body is
trusted, logged or acted on before ``X-Twilio-Signature`` checks out. Then the fields
(400), then the sender: anything but a mobile of ``phone.allowed_regions`` gets an empty
answer, no SMS (:mod:`bot.sms.sender_filter`). Then de-duplication, because Twilio
retries a webhook that timed out and a retried wrong code must not count twice, nor a
retried "1" send a second SMS. Only then does the message reach the conversation
engine, as a checked phone and a ``Text``.

The signature is computed over the URL Twilio called, which behind a reverse proxy is
``server.public_base_url`` and not the address this process listens on.

A turn the database could not store is answered 503 with no body, so Twilio may try
again; the de-duplication makes that safe.

Logs carry the MessageSid and the masked phone only; bodies hold codes and ID numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from bot.config import Config
from bot.config.secret_key import resolve_secret_key
from bot.services import SERVICES, Services
from bot.sms.sender_filter import DROPPED_SENDERS, DroppedSenders
from bot.sms.twiml import replies_twiml, twiml
from core import messages
from core.conversation import Participant, Text
from core.errors import InvalidInput
from core.masking import mask_phone
from core.values import Phone
from storage.errors import is_storage_failure

log = logging.getLogger(__name__)

PATH = "/sms/inbound"
CHANNEL = "sms"
_TWIML = "text/xml"
_DEMO_TOKEN_LABEL = b"portpass demo: twilio auth token for inbound SMS"


# --- which token signs inbound webhooks -------------------------------------------------


def demo_auth_token(secret_key: bytes) -> str:
    """A stand-in for Twilio's auth token in demo mode, derived from the secret key, so
    ``portpass chat`` (which loads the same config) can sign what the server accepts,
    and nobody without the key can."""
    return hmac.new(secret_key, _DEMO_TOKEN_LABEL, hashlib.sha256).hexdigest()


def inbound_auth_token(config: Config, *, demo: bool) -> str | None:
    """The configured ``twilio.auth_token``; in demo mode without one, the derived demo
    token; otherwise ``None``: inbound SMS cannot be authenticated, so it is refused."""
    configured = config.twilio.auth_token.reveal()
    if configured:
        return configured
    if demo:
        return demo_auth_token(resolve_secret_key(config, demo=True))
    return None


@dataclass(frozen=True, slots=True)
class InboundAuth:
    validator: RequestValidator | None


INBOUND_AUTH = web.AppKey("sms_inbound_auth", InboundAuth)


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, inbound_sms)
    app[DROPPED_SENDERS] = DroppedSenders()
    app.on_startup.append(_resolve_auth)  # after cleanup_ctx has opened the services


async def _resolve_auth(app: web.Application) -> None:
    services = app[SERVICES]
    token = inbound_auth_token(services.config, demo=services.demo)
    if token is None:
        log.warning("inbound SMS disabled: twilio.auth_token is required for inbound SMS")
    app[INBOUND_AUTH] = InboundAuth(RequestValidator(token) if token else None)


# --- the handler --------------------------------------------------------------------------


async def inbound_sms(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    validator = request.app[INBOUND_AUTH].validator
    if validator is None:
        log.warning("inbound SMS refused (503): twilio.auth_token is required for inbound SMS")
        return web.Response(status=503, text="inbound SMS needs twilio.auth_token\n")
    body = await _read_limited(request, services.config.server.max_body_bytes)
    form = _signed_form(request, body, validator, services.config.server.public_base_url)
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
        return _twiml_response(twiml([]))
    return await _answer_once(services, sid, phone, text)


async def _answer_once(services: Services, sid: str, phone: Phone, text: str) -> web.Response:
    """The TwiML for this message. The engine acts on a MessageSid once, in the same
    transaction as the turn: a retry gets the first answer, and a turn that failed
    leaves nothing behind, so Twilio's retry is handled afresh. When the database could
    not store the turn the answer is 503 with no body: Twilio may deliver the message
    again, and says nothing to the holder meanwhile."""
    who = Participant(
        key=f"{CHANNEL}:{phone.e164}", channel=CHANNEL, actor=mask_phone(phone), phone=phone.e164
    )
    try:
        turn = await services.conversations.handle(who, Text(text), message_id=sid)
    except Exception as error:
        if is_storage_failure(error):
            _log_failure(sid, "not stored, answered 503 for a retry", error)
            return web.Response(status=503)
        # A bug, which a retry would only repeat: the holder hears something.
        _log_failure(sid, "failed", error)
        default = services.config.verification.default_language
        return _twiml_response(twiml([messages.text("error.generic", default)]))
    log.info("inbound SMS %s from %s: %d replies", sid, mask_phone(phone), len(turn.replies))
    return _twiml_response(replies_twiml(turn.replies, turn.language))


def _log_failure(sid: str, what: str, error: Exception) -> None:
    """Driver errors can quote SQL parameters (phones, ID numbers, replies): the type
    only at ERROR, the traceback at DEBUG for whoever asks for it."""
    log.error("inbound SMS %s %s: %s", sid, what, type(error).__name__)
    log.debug("inbound SMS %s %s", sid, what, exc_info=True)


def _twiml_response(xml: str) -> web.Response:
    return web.Response(text=xml, content_type=_TWIML, charset="utf-8")


# --- reading and authenticating the body --------------------------------------------------


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit``: from Content-Length
    when sent, and by counting when not (chunked) or when it lies."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    log.warning("inbound SMS refused (413): body over %d bytes", limit)
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)


def _signed_form(
    request: web.Request, body: bytes, validator: RequestValidator, public_base_url: str
) -> MultiDict[str] | None:
    """The form fields if Twilio's signature over them and the public URL is right."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return None
    try:
        decoded = body.decode("utf-8")
        form = MultiDict(parse_qsl(decoded, keep_blank_values=True, strict_parsing=False))
    except (UnicodeDecodeError, ValueError):
        return None  # cannot be what Twilio signed
    url = public_base_url + request.path_qs
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    if not validator.validate(url, form, signature, algorithm=algorithm):
        return None
    return form
