"""The form's browser session: a random id in a cookie, the step state on the server.

The cookie holds nothing but 192 random bits: no pass number, ID number or phone ever
leaves the server in it. The state (:class:`Conversation`) is stored under a SHA-256 of
that id in the conversations table, so a database reader cannot replay a session, a
second tab reads the same state, and on PostgreSQL every process does too.

The anti-forgery field of every form is an HMAC of the session id under the server's
key (:meth:`core.codes.SecretHasher.form_tag`, as on the link page): another site can
neither read nor compute it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from bot.services import Services
from bot.web.client_limits import address_key
from core.conversation.state import Conversation, Step
from core.model import Channel, Requester

COOKIE = "pp_form"
#: The steps before a code is sent expire after this long idle (the chats' idle timeout);
#: waiting for the code does not, the code lives 24 hours and checking it says if it died.
_EXPIRING = frozenset({Step.ASK_PASS, Step.ASK_ID, Step.ASK_PHONE, Step.CONFIRM})


@dataclass(frozen=True, slots=True)
class FormSession:
    """One browser's session: its id (from the cookie, or new) and the state stored
    for it (a fresh one when there is none)."""

    id: str
    new: bool
    address: str

    @property
    def key(self) -> str:
        """The conversation key: the id's hash, so the table never holds a live cookie."""
        return "form:" + hashlib.sha256(self.id.encode()).hexdigest()[:32]

    def requester(self, language: str) -> Requester:
        """The session asks (the code may be typed only here, or from the link); the
        client address is counted by the failed-lookup cool-down, since a session is
        one cookie deletion away from a new one."""
        return Requester(
            key=self.key,
            channel=Channel.WEB,
            actor="web-form",
            language=language,
            limit_key=f"web:{self.address}",
        )


def session_of(request: web.Request) -> FormSession:
    raw = request.cookies.get(COOKIE, "")
    address = address_key(request.remote)
    if 20 <= len(raw) <= 64 and raw.replace("-", "").replace("_", "").isalnum():
        return FormSession(raw, False, address)
    return FormSession(secrets.token_urlsafe(24), True, address)


def remember(
    response: web.StreamResponse, session: FormSession, services: Services, remote: str | None
) -> None:
    """Sets the cookie (again: its lifetime follows the code's). ``SameSite=Lax``: a
    holder who follows a link to the form keeps their session, while another site's POST
    carries no cookie at all. ``Secure`` when the public address is HTTPS, except for a
    browser on this very machine (tests, a demo on 127.0.0.1), which speaks plain HTTP."""
    try:
        local = ipaddress.ip_address(remote or "").is_loopback
    except ValueError:
        local = False
    secure = services.config.server.public_base_url.startswith("https://") and not local
    response.set_cookie(
        COOKIE,
        session.id,
        max_age=int(timedelta(hours=services.config.verification.code_ttl_hours).total_seconds()),
        path="/verify",
        httponly=True,
        secure=secure,
        samesite="Lax",
    )


def current(
    services: Services, session: FormSession, stored: Conversation | None
) -> tuple[Conversation, bool]:
    """The session's state as stored (read in the caller's unit of work, locked there
    on PostgreSQL, so a double submit waits for the first), and whether a step it was at
    expired (the page says so and starts over)."""
    if session.new or stored is None:
        return Conversation(), False
    idle = timedelta(minutes=services.config.verification.conversation_idle_minutes)
    now = services.clock.now()
    if stored.step in _EXPIRING and stored.updated_at and now - stored.updated_at > idle:
        return stored.restart(), True
    return stored, False


def form_tag(services: Services, session: FormSession) -> str:
    return services.hasher.form_tag("verify-form:" + session.id)


def form_tag_matches(services: Services, session: FormSession, tag: object) -> bool:
    return isinstance(tag, str) and services.hasher.form_tag_matches(
        "verify-form:" + session.id, tag
    )
