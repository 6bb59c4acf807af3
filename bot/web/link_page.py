"""The verification link in the SMS: ``GET /v/{token}`` shows, ``POST /v/{token}`` confirms.

A GET never verifies: link scanners (mail and chat previews, security products) open
every link they see, and a holder must not be "verified" by a robot. The GET page shows
what is about to be verified (pass number and phone, masked) and one confirm button;
the POST does what typing the right code does (R3), through the same core use case.

The POST is protected against cross-site forgery twice: its form carries a tag that
only this server can compute for the token (an HMAC under the server's key), and a
browser's ``Sec-Fetch-Site`` and ``Origin`` headers, when present, must say the form
came from our own page. Every request to ``/v/*`` counts against a per-address limit
(:mod:`bot.web.client_limits`; an IPv6 client by its /64).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import Config
from bot.services import SERVICES
from bot.web.client_limits import (
    AddressLimiter,
    address_key,
    per_minute,
    retry_after_header,
)
from bot.web.pages import PAGES, Pages, install_pages, page_language
from core import messages
from core.errors import (
    AlreadyVerified,
    CodeExpired,
    CodeSuperseded,
    PassNotValid,
    PortPassError,
    RequestSpent,
    UnknownLink,
)
from core.masking import mask_pass, mask_phone
from core.model import Channel, Requester
from core.verification.sms_text import form_url
from storage.errors import is_storage_failure

log = logging.getLogger(__name__)

#: Requests to ``/v/*`` per client address per minute: a holder opens the page and
#: confirms once or twice; this leaves room for reloads and a shared NAT.
LINK_REQUESTS_PER_MINUTE = 20

#: What a 503 (the database unavailable) asks a browser to wait.
UNAVAILABLE_RETRY_SECONDS = 30

LIMITER: web.AppKey[AddressLimiter] = web.AppKey("link_limiter")

#: What ``core.codes.SystemSecrets.token`` makes (URL-safe base64), with room to grow;
#: anything else is unknown without a database lookup.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,64}")

#: The one table of link errors: HTTP status, message key, and whether the page says
#: how to get a new code (not when the phone is verified already).
_PROBLEMS: dict[type[PortPassError], tuple[int, str, bool]] = {
    UnknownLink: (404, "link.unknown", True),
    CodeExpired: (410, "link.expired", True),
    RequestSpent: (410, "check.spent", True),
    # A newer SMS is on the phone already; a new code would only replace that one.
    CodeSuperseded: (410, "link.superseded", False),
    # A registry import ended the pass's validity after the code was sent: no code helps.
    PassNotValid: (403, "request.pass_not_valid", False),
}


def setup(app: web.Application) -> None:
    install_pages(app)
    app.cleanup_ctx.append(_limiter_ctx)
    app.router.add_get("/v/{token}", show_link)
    app.router.add_post("/v/{token}", confirm_link)


async def _limiter_ctx(app: web.Application) -> AsyncIterator[None]:
    """The limit counted where every process sees it: in PostgreSQL when several
    processes may serve, in memory on SQLite (one process)."""
    app[LIMITER] = per_minute(app[SERVICES], LINK_REQUESTS_PER_MINUTE)
    yield


async def show_link(request: web.Request) -> web.Response:
    """The confirm page; reads, never writes."""
    language = _language(request)
    pages = request.app[PAGES]
    try:
        return await _show(request, pages, language)
    except Exception as error:
        return _unavailable(pages, language, error)


async def confirm_link(request: web.Request) -> web.Response:
    """The confirm button: checks that the form is ours, then verifies (R3)."""
    language = _language(request)
    pages = request.app[PAGES]
    try:
        return await _confirm(request, pages, language)
    except Exception as error:
        return _unavailable(pages, language, error)


async def _show(request: web.Request, pages: Pages, language: str) -> web.Response:
    limited = await _limited(request, pages, language)
    if limited is not None:
        return limited
    services = request.app[SERVICES]
    token = request.match_info["token"]
    try:
        details = await services.verification.describe_link(_checked(token))
    except PortPassError as error:
        return _problem(pages, error, language, _renewal(services.config, language))
    return pages.render(
        "link_confirm.html",
        language,
        title=messages.text("link.title", language),
        pass_no=mask_pass(details.pass_no),
        phone=mask_phone(details.phone),
        expires=messages.text("link.expires_at", language, expires_at=details.expires_at),
        tag=services.hasher.form_tag(token),
        kept_days=services.config.retention.verification_requests_days,
    )


async def _confirm(request: web.Request, pages: Pages, language: str) -> web.Response:
    limited = await _limited(request, pages, language)
    if limited is not None:
        return limited
    services = request.app[SERVICES]
    token = request.match_info["token"]
    if cross_site(request, services.config.server.public_base_url):
        log.warning("link confirm refused: cross-site request from %s", request.remote)
        return _forbidden(pages, language)
    form = await request.post()
    tag = form.get("tag")
    if not isinstance(tag, str) or not services.hasher.form_tag_matches(token, tag):
        log.warning("link confirm refused: missing or wrong form tag from %s", request.remote)
        return _forbidden(pages, language)
    requester = Requester(
        key=f"web:{request.remote}", channel=Channel.WEB, actor="link-page", language=language
    )
    try:
        verified = await services.verification.confirm_link(requester, _checked(token))
    except PortPassError as error:
        return _problem(pages, error, language, _renewal(services.config, language))
    return pages.render(
        "link_done.html",
        language,
        title=messages.text("link.verified_title", language),
        pass_no=mask_pass(verified.pass_no),
        phone=mask_phone(verified.phone),
    )


def _language(request: web.Request) -> str:
    default = request.app[SERVICES].config.verification.default_language
    return page_language(request, default)


def _checked(token: str) -> str:
    if not _TOKEN.fullmatch(token):
        raise UnknownLink()
    return token


async def _limited(request: web.Request, pages: Pages, language: str) -> web.Response | None:
    wait = await request.app[LIMITER].hit(address_key(request.remote))
    if wait is None:
        return None
    seconds = retry_after_header(wait)
    return pages.render(
        "link_problem.html",
        language,
        status=429,
        headers={"Retry-After": seconds},
        title=messages.text("link.busy_title", language),
        message=messages.text("link.rate_limited", language, seconds=seconds),
        renew=False,
    )


def _renewal(config: Config, language: str) -> str:
    """How to get a new code: by replying to the SMS only where replies reach us
    (``sms.receives_replies``); else at the web form, which works from any phone."""
    if config.sms.replies_arrive:
        return messages.text("link.how_to_renew", language)
    url = form_url(config.server.public_base_url)
    return messages.text("link.how_to_renew_no_replies", language, form_url=url)


def _problem(pages: Pages, error: PortPassError, language: str, renewal: str) -> web.Response:
    if isinstance(error, AlreadyVerified):
        # Not a problem: the holder did what was asked (often twice, or after a link
        # scanner's visit). A red page here made people think it had failed.
        return pages.render(
            "link_already.html", language, title=messages.text("link.already_title", language)
        )
    status, key, renew = _PROBLEMS.get(type(error), (410, error.message_key(), True))
    return pages.render(
        "link_problem.html",
        language,
        status=status,
        title=messages.text("link.problem_title", language),
        message=messages.text(key, language, **error.params()),
        renew=renewal if renew else False,
        form_url=f"/verify?lang={language}",  # a new code, from any phone
    )


def _unavailable(pages: Pages, language: str, error: Exception) -> web.Response:
    """503 and a page saying to open the link again in a minute, for a database that
    could not be read or written just now (a confirm's transaction rolled back: nothing
    was verified); any other exception is a bug and goes on to aiohttp's 500."""
    if not is_storage_failure(error):
        raise error
    log.error("link page answered 503, database unavailable: %s", type(error).__name__)
    log.debug("link page answered 503", exc_info=True)
    return pages.render(
        "link_problem.html",
        language,
        status=503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
        title=messages.text("link.busy_title", language),
        message=messages.text("link.unavailable", language),
        renew=False,
    )


def _forbidden(pages: Pages, language: str) -> web.Response:
    return pages.render(
        "link_problem.html",
        language,
        status=403,
        title=messages.text("link.problem_title", language),
        message=messages.text("link.forbidden", language),
        renew=False,
    )


def cross_site(request: web.Request, public_base_url: str) -> bool:
    """Whether the browser says the POST did not come from our own page.

    ``Sec-Fetch-Site`` (sent by current browsers whatever the referrer policy) must be
    ``same-origin``. ``Origin``, when sent, must be that of ``server.public_base_url``.
    ``Origin: null`` is foreign: it is what a sandboxed frame, a ``data:`` or ``file:``
    page, or a cross-origin redirect sends, which is where a forged form comes from.
    Our own page never sends it: its ``Referrer-Policy`` is ``same-origin``
    (:mod:`bot.web.pages`), under which a browser names our origin on a same-origin
    POST (``no-referrer`` made it send ``null``). No ``Origin`` at all (an old
    browser) proves nothing either way; the form tag still has to match.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    sent = _origin_of(origin)
    return sent is None or sent != _origin_of(public_base_url)


def _origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in the form browsers send, default ports left out."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")
