"""Twilio's webhook signature: one code path for every route Twilio calls.

``/sms/inbound`` and ``/sms/status`` are authenticated the same way, before anything in
the body is trusted, logged or acted on:

- the body is read up to ``server.max_body_bytes`` (413 beyond, known from
  Content-Length or by counting a chunked body);
- ``X-Twilio-Signature`` is checked with the ``twilio`` package's ``RequestValidator``
  over the URL Twilio called, which behind a reverse proxy is
  ``server.public_base_url`` plus the path and query, not the address this process
  listens on; and with the algorithm ``X-Twilio-Webhooks-Signature-Settings`` names
  (HMAC-SHA1 when absent, HMAC-SHA256 for webhooks signed with a shared key);
- a webhook with a JSON body is signed as Twilio signs those: the URL carries
  ``bodySHA256`` (the hex SHA-256 of the body) and the signature covers the URL alone.
  It is accepted exactly when ``RequestValidator.validate`` accepts it given the raw
  body, and its fields are the JSON object's (:func:`_json_fields`).

The token is ``twilio.auth_token``; in demo mode without one, a token derived from the
secret key, so ``portpass chat`` (which loads the same configuration) can sign what the
server accepts and nobody without the key can. Without either, every webhook is
refused: a signature keyed by an empty token is one anybody can make.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, urlsplit

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
from bot.json_body import BadJson, parse_json
from bot.services import SERVICES

log = logging.getLogger(__name__)

_DEMO_TOKEN_LABEL = b"portpass demo: twilio auth token for inbound SMS"
#: The query parameter with which Twilio signs a JSON body by its SHA-256.
_BODY_HASH = "bodySHA256"


def demo_auth_token(secret_key: bytes) -> str:
    """A stand-in for Twilio's auth token in demo mode, derived from the secret key."""
    return hmac.new(secret_key, _DEMO_TOKEN_LABEL, hashlib.sha256).hexdigest()


def webhook_auth_token(config: Config, *, demo: bool) -> str | None:
    """The configured ``twilio.auth_token``; in demo mode without one, the derived demo
    token; otherwise ``None``: Twilio's webhooks cannot be authenticated."""
    configured = config.twilio.auth_token.reveal()
    if configured:
        return configured
    if demo:
        return demo_auth_token(resolve_secret_key(config, demo=True))
    return None


@dataclass(frozen=True, slots=True)
class TwilioSignature:
    """Checks the webhooks of one app; ``validator`` is ``None`` without a token."""

    validator: RequestValidator | None
    public_base_url: str
    max_body_bytes: int

    async def signed_form(self, request: web.Request) -> MultiDict[str] | None:
        """The form fields if Twilio signed them and the URL it called, else ``None``
        (also without a token). Raises 413 for a body over ``server.max_body_bytes``."""
        body = await _read_limited(request, self.max_body_bytes)
        signature = request.headers.get(SIGNATURE_HEADER)
        if self.validator is None or not signature:
            return None
        url = self.public_base_url + request.path_qs
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if _BODY_HASH in parse_qs(urlsplit(url).query):
            return _signed_json(self.validator, url, body, signature, algorithm)
        try:
            decoded = body.decode("utf-8")
            form = MultiDict(parse_qsl(decoded, keep_blank_values=True, strict_parsing=False))
        except (UnicodeDecodeError, ValueError):
            return None  # cannot be what Twilio signed
        if not _signed(self.validator, url, form, signature, algorithm):
            return None
        return form


def _signed(
    validator: RequestValidator,
    url: str,
    form: MultiDict[str],
    signature: str,
    algorithm: str | None,
) -> bool:
    """``RequestValidator.validate``'s answer, with one HMAC instead of two for a request
    signed over the URL as configured (the usual case, and every request Twilio sends
    to a ``public_base_url`` without a port). ``validate`` always computes the
    signature twice, over the URL with and without its port (Twilio's back end has used
    both); anything the first computation here does not accept goes to ``validate``,
    so what is accepted stays exactly what it accepts, plus the URL itself."""
    try:
        expected = validator.compute_signature(url, form, algorithm)
    except ValueError:  # an algorithm the package does not know: validate says so
        expected = None
    if expected is not None and hmac.compare_digest(expected, signature):
        return True
    return bool(validator.validate(url, form, signature, algorithm=algorithm))


def _signed_json(
    validator: RequestValidator, url: str, body: bytes, signature: str, algorithm: str | None
) -> MultiDict[str] | None:
    """The fields of a body Twilio signed by its hash (``bodySHA256`` in the URL), or
    ``None`` if ``validate`` does not accept it. The decision is the package's, given
    what it is documented to take for a JSON body: the raw body as a string. A body
    that passes (so Twilio's, hash and all) but is not a JSON object of fields gets 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None  # hashed as UTF-8 by the package: cannot be what Twilio signed
    if not validator.validate(url, text, signature, algorithm=algorithm):
        return None
    return _json_fields(body)


def _json_fields(body: bytes) -> MultiDict[str]:
    """A JSON object's top-level fields, as the form fields the routes read: strings
    as they are, numbers and booleans as JSON writes them; nested values and nulls are
    not fields of Twilio's callbacks and are left out."""
    try:
        document = parse_json(body)
    except BadJson as error:
        raise web.HTTPBadRequest(
            text=f"a signed JSON body must be JSON: {error.problem}\n"
        ) from None
    if not isinstance(document, dict):
        raise web.HTTPBadRequest(text="a signed JSON body must be an object of fields\n")
    fields: MultiDict[str] = MultiDict()
    for name, value in document.items():
        if isinstance(value, str):
            fields.add(name, value)
        elif isinstance(value, bool | int | float):
            fields.add(name, json.dumps(value))
    return fields


TWILIO_SIGNATURE = web.AppKey("twilio_signature", TwilioSignature)


def setup(app: web.Application) -> None:
    """Resolve the token once the services are open (before the routes that use it)."""
    app.on_startup.append(_resolve)  # after cleanup_ctx has opened the services


async def _resolve(app: web.Application) -> None:
    services = app[SERVICES]
    config = services.config
    token = webhook_auth_token(config, demo=services.demo)
    if token is None:
        log.warning("Twilio webhooks disabled: twilio.auth_token is required to check them")
    app[TWILIO_SIGNATURE] = TwilioSignature(
        RequestValidator(token) if token else None,
        config.server.public_base_url,
        config.server.max_body_bytes,
    )


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit``: from Content-Length
    when sent, and by counting when not (chunked) or when it lies."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(request, limit, request.content_length)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        size += len(chunk)
        if size > limit:
            raise _too_large(request, limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(request: web.Request, limit: int, size: int) -> web.HTTPRequestEntityTooLarge:
    log.warning("Twilio webhook %s refused (413): body over %d bytes", request.path, limit)
    return web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
