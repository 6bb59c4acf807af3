"""A local server that speaks the part of Twilio's REST API we use: sending an SMS.

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` the way Twilio does
(HTTP Basic auth with the account SID and auth token, form fields, 201 with the message
JSON, 4xx with Twilio's error JSON), so the real ``twilio`` client can be tested over
real HTTP. Every accepted message is kept in :attr:`FakeTwilio.messages`.

Planned failures (:class:`Fault`) are queued with :meth:`FakeTwilio.fail_next` and
consumed by the next requests in order, before auth and validation, like an outage that
does not care who is asking. :func:`send_status_callback` signs and posts a delivery
status callback, as Twilio does after sending.

Why one module: it is one fake server, and its message endpoint, faults and status
callbacks share the state a test inspects.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
_MESSAGES_PATH = f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# The permanent errors the outbox must tell apart, with Twilio's wording.
PERMANENT_ERRORS = {
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated "
    "by the 'To' number: {to}.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number {to} is not a valid mobile number",
}


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's (pre-RFC 9457) error JSON, which twilio-python turns into
    ``TwilioRestException(status, code=code)``."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def num_segments(body: str) -> int:
    """Segments Twilio bills: GSM-7 160 (153 when split), else UCS-2 70 (67).

    Written here rather than imported from core so the fake checks our count instead
    of repeating it."""
    if all(c in _GSM7 or c in _GSM7_EXTENDED for c in body):
        length = sum(2 if c in _GSM7_EXTENDED else 1 for c in body)
        single, part = 160, 153
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if length <= single else -(-length // part)


@dataclass(frozen=True, slots=True)
class Fault:
    """One planned failure for the next request.

    ``delay`` makes the server sleep first (a timeout when it exceeds the client's);
    afterwards it answers ``status`` with Twilio's error JSON, or, when ``status`` is
    0, handles the request normally: Twilio was slow but did send the SMS.
    """

    status: int
    code: int | None = None
    message: str = ""
    retry_after: int | None = None
    delay: float = 0.0

    @classmethod
    def server_error(cls) -> Fault:
        return cls(500, 20500, "Internal Server Error")

    @classmethod
    def unavailable(cls) -> Fault:
        return cls(503, 20503, "Service Unavailable")

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        return cls(429, 20429, "Too Many Requests", retry_after=retry_after)

    @classmethod
    def timeout(cls, seconds: float = 30.0, *, then_send: bool = False) -> Fault:
        return cls(0 if then_send else 504, 20504, "Gateway Timeout", delay=seconds)

    @classmethod
    def twilio_error(cls, code: int) -> Fault:
        """A permanent error from :data:`PERMANENT_ERRORS`, with status 400."""
        return cls(400, code, PERMANENT_ERRORS[code])


class FakeTwilio:
    """The fake API on 127.0.0.1 and a random port; use ``async with`` or start/close."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.messages: list[dict[str, Any]] = []  # accepted: the JSON + "status_callback"
        self.requests: list[dict[str, str]] = []  # every form received, accepted or not
        #: ``time.monotonic()`` of each accepted message, in ``messages``' order: what a
        #: test of the send rate measures.
        self.accepted_at: list[float] = []
        self._faults: deque[Fault] = deque()
        self._reused_sids: deque[str] = deque()
        self._outage: Callable[[], Fault | None] | None = None
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(_MESSAGES_PATH, self._create_message)
        return app

    async def start(self) -> Self:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        self._closing.set()  # wake handlers sleeping on a timeout fault
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def messages_url(self) -> str:
        return self.url + _MESSAGES_PATH.format(account_sid=self.account_sid)

    def fail_next(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def fail_while(self, plan: Callable[[], Fault | None] | None) -> None:
        """An outage by the test's clock: each request with no queued fault asks
        ``plan`` and answers its fault, until ``plan`` says ``None`` (recovered).
        ``None`` ends the plan."""
        self._outage = plan

    def reuse_sid_next(self, *sids: str) -> None:
        """The next accepted messages get these sids again instead of new ones: a
        provider answering with a sid it gave before (a bug on its side, or a replay
        of an earlier answer by a proxy)."""
        self._reused_sids.extend(sids)

    # -- the endpoint -----------------------------------------------------------------

    async def _create_message(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.requests.append(form)
        fault = self._faults.popleft() if self._faults else None
        if fault is None and self._outage is not None:
            fault = self._outage()
        if fault is not None:
            if fault.delay:
                try:
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
                    return _error(503, 20503, "Service Unavailable")  # shutting down
                except TimeoutError:
                    pass
            if fault.status:
                return _error(
                    fault.status,
                    fault.code or fault.status,
                    fault.message.format(to=form.get("To", "")),
                    retry_after=fault.retry_after,
                )
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        if request.match_info["account_sid"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        problem = _invalid(form)
        if problem is not None:
            return _error(400, *problem)
        message = self._accept(form)
        return web.json_response(message, status=201)

    def _authorised(self, request: web.Request) -> bool:
        expected = aiohttp.encode_basic_auth(self.account_sid, self.auth_token)
        return secrets.compare_digest(request.headers.get("Authorization", ""), expected)

    def _accept(self, form: dict[str, str]) -> dict[str, Any]:
        sid = self._reused_sids.popleft() if self._reused_sids else "SM" + uuid.uuid4().hex
        now = email.utils.format_datetime(datetime.now(UTC))  # "Tue, 05 May 2026 ... +0000"
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        service = form.get("MessagingServiceSid")
        message: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "to": form["To"],
            "from": form.get("From"),  # Twilio picks the pool sender later
            "messaging_service_sid": service,
            "body": form["Body"],
            # Twilio says "accepted" when a Messaging Service still has to pick a sender.
            "status": "accepted" if service and "From" not in form else "queued",
            "num_segments": str(num_segments(form["Body"])),
            "num_media": "0",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "price_unit": "USD",
            "uri": uri + ".json",
            "subresource_uris": {"media": uri + "/Media.json"},
        }
        self.messages.append({**message, "status_callback": form.get("StatusCallback")})
        self.accepted_at.append(time.monotonic())
        return message

    # -- status callbacks -------------------------------------------------------------

    def status_params(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> dict[str, str]:
        """The form Twilio posts to a message's StatusCallback for ``status``."""
        message = self._message(sid)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": message["to"],
            "From": message["from"] or "+15005550006",
        }
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    async def report_status(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> CallbackAnswer:
        """Post a signed status callback for message ``sid`` to its StatusCallback."""
        message = self._message(sid)
        if not message["status_callback"]:
            raise LookupError(f"message {sid} was sent without a StatusCallback")
        message["status"] = status
        params = self.status_params(sid, status, error_code=error_code)
        return await send_status_callback(message["status_callback"], params, self.auth_token)

    def _message(self, sid: str) -> dict[str, Any]:
        for message in self.messages:
            if message["sid"] == sid:
                return message
        raise LookupError(f"no message {sid}")


def _invalid(form: dict[str, str]) -> tuple[int, str] | None:
    """Twilio's code and message for the first bad field, or None."""
    to = form.get("To")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not _E164.match(to):
        return 21211, PERMANENT_ERRORS[21211].format(to=to)
    has_from, has_service = bool(form.get("From")), bool(form.get("MessagingServiceSid"))
    if has_from == has_service:
        # Twilio itself accepts both (a chosen sender from the pool); our contract is
        # one or the other, so the fake is stricter.
        return 21603, "Exactly one of 'From' or 'MessagingServiceSid' is required."
    if has_from and not (_E164.match(form["From"]) or _ALPHANUMERIC_SENDER.match(form["From"])):
        return 21212, f"The 'From' number {form['From']} is not a valid phone number."
    if has_service and not _SERVICE_SID.match(form["MessagingServiceSid"]):
        return 21701, "The Messaging Service Sid is invalid."
    body = form.get("Body", "")
    if not body:
        return 21602, "Message body is required."
    if len(body) > 1600:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    callback = form.get("StatusCallback")
    if callback is not None:
        parts = urlsplit(callback)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return 21609, "The StatusCallback URL is not a valid URL."
    return None


def _error(status: int, code: int, message: str, *, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response(error_body(status, code, message), status=status, headers=headers)


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    status: int
    text: str


async def send_status_callback(url: str, params: dict[str, str], auth_token: str) -> CallbackAnswer:
    """POST ``params`` to ``url`` signed like Twilio: ``X-Twilio-Signature`` is the
    base64 HMAC-SHA1, keyed by the auth token, of the URL followed by the sorted params."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as response,
    ):
        return CallbackAnswer(response.status, await response.text())
