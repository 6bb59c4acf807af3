"""``/verify``: GET shows the step the browser's session is at; each step's form POSTs
and is answered by a redirect back to ``GET /verify`` (post/redirect/get), so a reload,
the back button or a double submit repeats nothing: the step state lives on the server,
read and written in one transaction with the action it causes (locked on PostgreSQL),
and a confirmation that finds its session past the question sends nothing again.

A form whose input needs fixing is answered in place (400, the fields kept), as is a
request the rules refuse (the reason above the fields, nothing half-done).
"""

from __future__ import annotations

from aiohttp import web

from bot.web.pages import PAGES, install_pages
from bot.web.verify_form import limits
from bot.web.verify_form.responses import (
    busy,
    checked_form,
    context,
    database_down_is_503,
    expired_page,
    field,
    limited_by,
    refused,
    save,
    see_other,
    with_cookie,
)
from bot.web.verify_form.session import current
from bot.web.verify_form.views import code_page, page_for, start_page
from core import messages
from core.conversation.state import Conversation, Step
from core.errors import (
    AlreadyRequested,
    AlreadyRequestedElsewhere,
    IdChecksumMismatch,
    InvalidInput,
    PortPassError,
    WrongCode,
)
from core.values import IdNumber, PassNumber, Phone, parse_code


def setup(app: web.Application) -> None:
    install_pages(app)
    app.cleanup_ctx.append(limits.limiters_ctx)
    app.router.add_get("/verify", database_down_is_503(show))
    app.router.add_post("/verify", database_down_is_503(submit_details))
    app.router.add_post("/verify/confirm", database_down_is_503(confirm))
    app.router.add_post("/verify/code", database_down_is_503(enter_code))
    app.router.add_post("/verify/restart", database_down_is_503(restart))


async def show(request: web.Request) -> web.StreamResponse:
    services, session, language = context(request)
    if (limited := await limited_by(request, limits.PAGE_LIMITER, language)) is not None:
        return limited
    async with services.uow() as uow:
        stored = None if session.new else await uow.conversations.get(session.key)
    state, expired = current(services, session, stored)
    pages = request.app[PAGES]
    notice = "form.expired" if expired else None
    return with_cookie(page_for(pages, services, session, state, language, notice=notice), request)


async def submit_details(request: web.Request) -> web.StreamResponse:
    """The three fields: read as forgivingly as the chats read them; a check-digit typo
    is said before any lookup, and the same number sent again is taken as meant."""
    services, session, language = context(request)
    form, refusal = await checked_form(request, language)
    if refusal is not None:
        return refusal
    values = {name: field(form, name) for name in ("pass_no", "id_no", "phone")}
    async with services.uow() as uow:
        state, _ = current(services, session, await uow.conversations.get(session.key))
        errors: dict[str, str] = {}
        pass_no = id_no = phone = None
        try:
            pass_no = PassNumber.parse(values["pass_no"])
        except InvalidInput as error:
            errors["pass_no"] = messages.render_error(error, language)
        unconfirmed = None
        try:
            id_no = IdNumber.parse(values["id_no"])
        except IdChecksumMismatch as error:
            typed = str(error.fields["value"])
            if state.unconfirmed_id == typed:
                id_no = IdNumber.parse(typed, trust_check_digit=False)
            else:
                unconfirmed = typed
                errors["id_no"] = messages.text("form.id_checksum", language, value=typed)
        except InvalidInput as error:
            errors["id_no"] = messages.render_error(error, language)
        allowed = services.config.phone.allowed_regions
        try:
            phone = Phone.parse(values["phone"], regions=allowed)
        except InvalidInput as error:
            errors["phone"] = messages.render_error(error, language)
        if errors or pass_no is None or id_no is None or phone is None:
            await save(uow, services, session, state.restart().with_(unconfirmed_id=unconfirmed))
            await uow.commit()
            pages = request.app[PAGES]
            response = start_page(
                pages, services, session, language, status=400, values=values, errors=errors
            )
            return with_cookie(response, request)
        asked = state.restart().with_(
            step=Step.CONFIRM, pass_no=pass_no.value, id_no=id_no.value, phone=phone.e164
        )
        await save(uow, services, session, asked)
        await uow.commit()
    return see_other(request, language)


async def confirm(request: web.Request) -> web.StreamResponse:
    """R4's answer. Yes: the code is asked for (R1-R3, in the service), once."""
    services, session, language = context(request)
    form, refusal = await checked_form(request, language)
    if refusal is not None:
        return refusal
    async with services.uow() as uow:
        state, expired = current(services, session, await uow.conversations.get(session.key))
        if state.step is not Step.CONFIRM or not (state.pass_no and state.id_no and state.phone):
            # A second submit, the back button, another tab: nothing to do but show where
            # the session is. An expired question says so.
            if expired:
                await save(uow, services, session, state)
                await uow.commit()
                return expired_page(request, language)
            return see_other(request, language)
        if form.get("action") != "confirm":
            await save(uow, services, session, state.restart())
            await uow.commit()
            return see_other(request, language)
        if (limited := await limited_by(request, limits.LOOKUP_LIMITER, language)) is not None:
            return limited
        now = services.clock.now()
        wait = await limits.sends_left(uow, session.address, now)
        if wait is not None:
            return busy(request, language, wait)
        values = {"pass_no": state.pass_no, "id_no": state.id_no, "phone": state.phone}
        try:
            sent = await services.verification.request_as_holder(
                session.requester(language),
                PassNumber(state.pass_no),
                IdNumber(state.id_no),
                Phone(state.phone),
                uow=uow,
            )
        except AlreadyRequested as error:
            if not isinstance(error, AlreadyRequestedElsewhere):
                # This session asked before: its code still works; wait for it.
                await save(uow, services, session, state.with_(step=Step.AWAIT_CODE))
                await uow.commit()
                return see_other(request, language)
            return await refused(request, uow, state, language, error, values)
        except PortPassError as error:
            return await refused(request, uow, state, language, error, values)
        await limits.count_send(uow, session.address, now)
        waiting = state.with_(
            step=Step.AWAIT_CODE,
            request_id=sent.request_id,
            own_passes=(*state.own_passes, sent.pass_no.value)[-20:],
        )
        await save(uow, services, session, waiting)
        await uow.commit()
    return see_other(request, language)


async def enter_code(request: web.Request) -> web.StreamResponse:
    """The 6 digits from the SMS; five wrong ones lock this session out of the code (the
    service's rule), never the request: the link and the holder's other ways still work."""
    services, session, language = context(request)
    form, refusal = await checked_form(request, language)
    if refusal is not None:
        return refusal
    pages = request.app[PAGES]
    async with services.uow() as uow:
        state, expired = current(services, session, await uow.conversations.get(session.key))
        if state.step is not Step.AWAIT_CODE or not state.phone:
            if expired:
                await save(uow, services, session, state)
                await uow.commit()
                return expired_page(request, language)
            return see_other(request, language)
        try:
            code = parse_code(field(form, "code"))
        except InvalidInput as error:
            message = messages.render_error(error, language)
            response = code_page(
                pages, services, session, state, language, status=400, error=message
            )
            return with_cookie(response, request)
        try:
            verified = await services.verification.check_code(
                session.requester(language),
                Phone(state.phone),
                code,
                request_id=state.request_id,
                uow=uow,
            )
        except WrongCode as error:
            await uow.commit()
            message = messages.render_error(error, language)
            response = code_page(
                pages, services, session, state, language, status=400, error=message
            )
            return with_cookie(response, request)
        except PortPassError as error:
            return await refused(request, uow, state, language, error, {})
        done = Conversation(
            step=Step.DONE,
            pass_no=verified.pass_no.value,
            phone=verified.phone.e164,
            own_passes=state.own_passes,
        )
        await save(uow, services, session, done)
        await uow.commit()
    return see_other(request, language)


async def restart(request: web.Request) -> web.StreamResponse:
    """ "Start over" (another pass, a typo seen on the confirmation, done)."""
    services, session, language = context(request)
    _, refusal = await checked_form(request, language)
    if refusal is not None:
        return refusal
    async with services.uow() as uow:
        state, _ = current(services, session, await uow.conversations.get(session.key))
        await save(uow, services, session, state.restart())
        await uow.commit()
    return see_other(request, language)
