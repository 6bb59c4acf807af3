"""What each step of the form looks like: the page for a state, an error, a limit.

Every page is a plain HTML form that posts to the server (no JavaScript), each field
with its label and hint; an error is tied to its field (``aria-describedby``,
``aria-invalid``) and the first one takes the focus (``autofocus``), so a screen
reader and a keyboard land on what needs fixing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.services import Services
from bot.web.pages import Pages
from bot.web.verify_form.session import FormSession, form_tag
from core import messages
from core.conversation.state import Conversation, Step
from core.masking import mask_id, mask_pass, mask_phone
from core.values import IdNumber, PassNumber, Phone

FIELDS = ("pass_no", "id_no", "phone")


def page_for(
    pages: Pages,
    services: Services,
    session: FormSession,
    state: Conversation,
    language: str,
    *,
    notice: str | None = None,
) -> web.Response:
    """The page of the step the session is at (what ``GET /verify`` shows)."""
    common = _common(services, session, language)
    if state.step is Step.DONE and state.pass_no and state.phone:
        return pages.render(
            "form_done.html",
            language,
            title=messages.text("link.verified_title", language),
            pass_no=mask_pass(PassNumber(state.pass_no)),
            phone=mask_phone(Phone(state.phone)),
            **common,
        )
    if state.step is Step.AWAIT_CODE and state.phone:
        return code_page(pages, services, session, state, language)
    if state.step is Step.CONFIRM and state.pass_no and state.id_no and state.phone:
        return pages.render(
            "form_confirm.html",
            language,
            title=messages.text("form.confirm_title", language),
            question=messages.text("request.confirm", language, pass_no=state.pass_no),
            pass_no=state.pass_no,
            id_no=mask_id(IdNumber(state.id_no)),
            phone=mask_phone(Phone(state.phone)),
            **common,
        )
    return start_page(pages, services, session, language, notice=notice)


def start_page(
    pages: Pages,
    services: Services,
    session: FormSession,
    language: str,
    *,
    status: int = 200,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
    problem: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The three fields; ``notice`` (a step expired) and ``problem`` (why no code was
    sent) above them, ``errors`` by field name beside their fields."""
    errors = dict(errors or {})
    first = next((name for name in FIELDS if name in errors), None)
    return pages.render(
        "form_start.html",
        language,
        status=status,
        headers=headers,
        title=messages.text("form.title", language),
        values={name: (values or {}).get(name, "") for name in FIELDS},
        errors=errors,
        first_error=first,
        notice=messages.text(notice, language) if notice else None,
        problem=problem,
        **_common(services, session, language),
    )


def code_page(
    pages: Pages,
    services: Services,
    session: FormSession,
    state: Conversation,
    language: str,
    *,
    status: int = 200,
    error: str | None = None,
) -> web.Response:
    return pages.render(
        "form_code.html",
        language,
        status=status,
        title=messages.text("form.code_title", language),
        phone=mask_phone(Phone(state.phone)) if state.phone else "",
        hours=services.config.verification.code_ttl_hours,
        error=error,
        **_common(services, session, language),
    )


def _common(services: Services, session: FormSession, language: str) -> dict[str, Any]:
    return {
        "tag": form_tag(services, session),
        "lang": language,
        "kept_days": services.config.retention.verification_requests_days,
    }
