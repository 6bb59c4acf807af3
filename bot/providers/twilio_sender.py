"""The Twilio sender: one SMS through the official async client, its answer sorted into
the three outcomes of :mod:`bot.providers.sender`."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.providers.sender import PermanentFailure, SendResult, Sent, TransientFailure, masked

log = logging.getLogger(__name__)

# Headers of the last response seen in this task. TwilioRestException drops them, but a
# 429's Retry-After is what the worker needs; a ContextVar keeps concurrent sends apart.
_last_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "twilio_last_headers", default=None
)

_RETRYABLE_STATUS = frozenset({408, 429})

# Reasons for codes the worker will meet; Twilio's own message is not reused because it
# quotes the full phone number.
_KNOWN_CODES = {
    20003: "Twilio rejected the account SID or auth token",
    20404: "Twilio account or resource not found (check the account SID)",
    21211: "invalid 'To' phone number",
    21408: "SMS to this region is not enabled on the Twilio account",
    21610: "recipient has unsubscribed (replied STOP)",
    21614: "'To' number is not a mobile number",
}


class _RoutedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """The stock async client with three fixes we need.

    - ``base_url`` replaces scheme and host of every URL (Twilio's documented way to
      reach another host is a custom HTTP client); it runs after the Client's own
      edge/region rewriting, so those cannot send test traffic elsewhere.
    - The stock client never applies its own ``timeout`` (twilio-python #925) and hands
      aiohttp ``timeout=None``, which means no timeout at all; we pass ours.
    - The stock client wraps credentials in ``aiohttp.BasicAuth``, deprecated since
      aiohttp 3.14 (a DeprecationWarning, an error under our pytest settings); we send
      the ``Authorization`` header ourselves and pass no ``auth``.
    - It remembers the response headers for :func:`_retry_after`.
    """

    def __init__(self, *, base_url: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None

    def _route(self, url: str) -> str:
        if self._base is None:
            return url
        parts = urlsplit(url)
        path = self._base.path + parts.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the parent's signature
        allow_redirects: bool = False,
    ) -> Response:
        _last_headers.set(None)
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        response = await super().request(
            method,
            self._route(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        _last_headers.set(response.headers)
        return response


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header; the HTTP-date form is not worth parsing here."""
    if not headers or headers.get("Retry-After") is None:
        return None
    try:
        return max(0.0, float(headers["Retry-After"]))
    except ValueError:
        return None


class TwilioSender:
    """Sends through Twilio's Messages API with the official client, asynchronously.

    Exactly one of ``from_number`` and ``messaging_service_sid`` names the sender.
    ``api_base_url`` replaces ``https://api.twilio.com`` (tests point it at
    ``fakes.twilio_api.FakeTwilio``). The aiohttp session is made on the first
    send, inside the running loop, and released by :meth:`close`.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        api_base_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        # "" means unset, as in bot.config's TwilioConfig.
        from_number, messaging_service_sid = from_number or None, messaging_service_sid or None
        if (from_number is None) == (messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive: {timeout!r}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_url = status_callback_url or None
        self.api_base_url = api_base_url or None
        self.timeout = timeout
        self._http: _RoutedHttpClient | None = None
        self._client: Client | None = None

    def __repr__(self) -> str:
        via = self.from_number or self.messaging_service_sid
        return f"TwilioSender(account_sid={self.account_sid!r}, via={via!r}, token=***)"

    def _twilio(self) -> Client:
        if self._client is None:
            self._http = _RoutedHttpClient(base_url=self.api_base_url, timeout=self.timeout)
            client = Client(self.account_sid, self.auth_token, http_client=self._http)
            # Client reads TWILIO_EDGE / TWILIO_REGION from os.environ; our config is
            # explicit (STYLE §8), so do not let the process environment reroute us.
            client.edge = None
            client.region = None
            self._client = client
        return self._client

    async def send(self, to: str, body: str) -> SendResult:
        who = masked(to)
        sender: dict[str, str] = (
            {"from_": self.from_number}
            if self.from_number is not None
            else {"messaging_service_sid": self.messaging_service_sid or ""}
        )
        if self.status_callback_url is not None:
            sender["status_callback"] = self.status_callback_url
        try:
            message = await self._twilio().messages.create_async(to=to, body=body, **sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            result = self._failure(exc.status, exc.code)
        except TimeoutError:
            result = TransientFailure(f"no answer from Twilio within {self.timeout:g}s")
        except aiohttp.ClientError as exc:
            result = TransientFailure(f"connection to Twilio failed: {type(exc).__name__}")
        except TwilioException as exc:  # e.g. an unreadable answer: may or may not be sent
            result = TransientFailure(f"unexpected answer from Twilio: {type(exc).__name__}")
        else:
            sid, status = str(message.sid), str(message.status or "queued")
            log.info("sms %s to %s accepted by twilio (%s)", sid, who, status)
            return Sent(sid, status)
        # The outbox worker decides what is an emergency (bad credentials: one ERROR,
        # then it pauses); each refused try is only a warning here.
        log.warning("sms to %s not sent: %s", who, result)
        return result

    def _failure(self, status: int, code: int | None) -> TransientFailure | PermanentFailure:
        if status >= 500 or status in _RETRYABLE_STATUS:
            retry_after = _retry_after(_last_headers.get())
            return TransientFailure(f"Twilio answered HTTP {status} (code {code})", retry_after)
        reason = _KNOWN_CODES.get(code or 0, f"Twilio refused the message (HTTP {status})")
        if status in (401, 403) or code in (20003, 20404):
            return PermanentFailure(code, f"config error: {reason}", config_error=True)
        return PermanentFailure(code, reason)

    async def close(self) -> None:
        """Close the aiohttp session; the next send would open a new one."""
        if self._http is not None:
            await self._http.close()
        self._http = None
        self._client = None

    async def __aenter__(self) -> TwilioSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
