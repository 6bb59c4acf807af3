"""The form's shared request and response plumbing: who asks, in which language, whether
the POST is ours, and the answers every step may give (redirect, limit, refusal)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from bot.services import SERVICES, Services
from bot.web.client_limits import AddressLimiter, retry_after_header
from bot.web.link_page import cross_site
from bot.web.pages import PAGES, page_language
from bot.web.verify_form.limits import LIMIT_NAMES, PAGE_LIMITER
from bot.web.verify_form.session import FormSession, form_tag_matches, remember, session_of
from bot.web.verify_form.views import start_page
from core import messages
from core.conversation.state import Conversation
from core.errors import AlreadyRequested, NoOpenRequest, PortPassError, TooManyFailures
from core.ports import UnitOfWork
from storage.errors import is_storage_failure

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: The request's form session, set by :func:`context`.
SESSION = web.RequestKey("form_session", FormSession)

#: Longer than any value a holder could mean; more is cut, never parsed.
MAX_FIELD = 64


def context(request: web.Request) -> tuple[Services, FormSession, str]:
    services = request.app[SERVICES]
    default = services.config.verification.default_language
    session = session_of(request)
    request[SESSION] = session
    return services, session, page_language(request, default)


def field(form: MultiDictProxy[Any], name: str) -> str:
    value = form.get(name, "")
    return value[:MAX_FIELD] if isinstance(value, str) else ""


async def checked_form(
    request: web.Request, language: str
) -> tuple[MultiDictProxy[Any], web.StreamResponse | None]:
    """The POSTed form, or the refusal: too many requests from the address, a POST from
    another site, or a form this session did not get from us (its tag)."""
    services = request.app[SERVICES]
    session = request[SESSION]
    empty: MultiDictProxy[Any] = MultiDictProxy(MultiDict())
    if (limited := await limited_by(request, PAGE_LIMITER, language)) is not None:
        return empty, limited
    if cross_site(request, services.config.server.public_base_url):
        return empty, _forbidden(request, language)
    form = await request.post()
    if session.new or not form_tag_matches(services, session, form.get("tag")):
        return empty, _forbidden(request, language)
    return form, None


async def limited_by(
    request: web.Request, key: web.AppKey[AddressLimiter], language: str
) -> web.StreamResponse | None:
    session = request[SESSION]
    # Each limiter counts under its own name: on PostgreSQL they share one table.
    wait = await request.app[key].hit(f"{LIMIT_NAMES[key]}:{session.address}")
    return None if wait is None else busy(request, language, wait)


def busy(request: web.Request, language: str, wait: float) -> web.StreamResponse:
    seconds = retry_after_header(wait)
    return request.app[PAGES].render(
        "link_problem.html",
        language,
        status=429,
        headers={"Retry-After": seconds},
        title=messages.text("link.busy_title", language),
        message=messages.text("link.rate_limited", language, seconds=seconds),
        renew=False,
        form_url=f"/verify?lang={language}",
    )


def _forbidden(request: web.Request, language: str) -> web.StreamResponse:
    """Not our form (or the cookie is gone): a fresh form, saying why."""
    services = request.app[SERVICES]
    session = request[SESSION]
    problem = messages.text("form.forbidden", language)
    response = start_page(
        request.app[PAGES], services, session, language, status=403, problem=problem
    )
    return with_cookie(response, request)


def expired_page(request: web.Request, language: str) -> web.StreamResponse:
    services = request.app[SERVICES]
    session = request[SESSION]
    response = start_page(
        request.app[PAGES], services, session, language, status=409, notice="form.expired"
    )
    return with_cookie(response, request)


async def refused(
    request: web.Request,
    uow: UnitOfWork,
    state: Conversation,
    language: str,
    error: PortPassError,
    values: dict[str, str],
) -> web.StreamResponse:
    """The rules said no (R1's one answer, the cool-down, R2, validity...): the reason
    above the form, the form filled in again; what the service recorded (a failed
    lookup, a wrong code) is committed with the session's fresh start."""
    services = request.app[SERVICES]
    session = request[SESSION]
    await save(uow, services, session, state.restart())
    await uow.commit()
    status = 422  # the request cannot be done as asked (no match, out of validity...)
    if isinstance(error, TooManyFailures):
        status = 429
    elif isinstance(error, AlreadyRequested):
        status = 409
    # A chat's "send VERIFY" means nothing here: the form says to ask again below.
    problem = (
        messages.text("form.no_request", language)
        if isinstance(error, NoOpenRequest)
        else messages.render_error(error, language)
    )
    response = start_page(
        request.app[PAGES],
        services,
        session,
        language,
        status=status,
        values=values,
        problem=problem,
    )
    return with_cookie(response, request)


async def save(
    uow: UnitOfWork, services: Services, session: FormSession, state: Conversation
) -> None:
    await uow.conversations.save(session.key, state.with_(updated_at=services.clock.now()))


def see_other(request: web.Request, language: str) -> web.StreamResponse:
    response = web.Response(status=303, headers={"Location": f"/verify?lang={language}"})
    response.headers["Cache-Control"] = "no-store"
    return with_cookie(response, request)


def with_cookie(response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
    session = request[SESSION]
    remember(response, session, request.app[SERVICES], request.remote)
    return response


def database_down_is_503(handler: Handler) -> Handler:
    """The database unreachable: 503 and a page saying to try again shortly, never a
    500; nothing was half-written (each step is one transaction)."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as error:
            if not is_storage_failure(error):
                raise
            log.error("web form: database unavailable (%s)", type(error).__name__)
            language = _language_of(request)
            return request.app[PAGES].render(
                "link_problem.html",
                language,
                status=503,
                headers={"Retry-After": "30"},
                title=messages.text("link.busy_title", language),
                message=messages.text("error.generic", language),
                renew=False,
            )

    return guarded


def _language_of(request: web.Request) -> str:
    default = request.app[SERVICES].config.verification.default_language
    return page_language(request, default)
