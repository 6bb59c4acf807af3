"""``/dev/inbox``: the SMS the console sender "sent", for someone trying the demo.

Without Twilio, a newcomer still needs the code and the link from the verification SMS.
``GET /dev/inbox`` lists the latest ones (newest first, links clickable), and
``GET /dev/inbox.json`` gives them to scripts such as ``portpass chat``.

Both exist only in demo mode with the console sender (``portpass serve --demo``);
anywhere else they answer 404 as if they did not exist, since SMS bodies carry codes.

JSON contract: ``GET /dev/inbox.json?to=<phone>&after=<id>``, both optional. ``to`` is
E.164 or a national number (``0960123411``); ``after`` an id seen before. The answer is
a list, oldest first, of ``{"id": int, "to": "+886...", "body": str, "at": ISO 8601}``
with ``id`` growing by one per SMS sent since start; poll with the last id seen. A
``to`` or ``after`` that does not parse gets 400 and ``{"error": "..."}``.
"""

from __future__ import annotations

import re

from aiohttp import web

from bot.providers.console import ConsoleMessage, ConsoleSender
from bot.services import SERVICES
from bot.web.pages import PAGES, install_pages, page_language
from core import messages
from core.clock import TAIPEI
from core.errors import InvalidInput
from core.values import Phone

_URL = re.compile(r"https?://[^\s<>\"']+")
_JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def setup(app: web.Application) -> None:
    install_pages(app)
    app.router.add_get("/", demo_home)
    app.router.add_get("/dev/inbox", inbox_page)
    app.router.add_get("/dev/inbox.json", inbox_json)


def _console(request: web.Request) -> ConsoleSender:
    """The demo's console sender, or 404: the page does not exist elsewhere."""
    services = request.app[SERVICES]
    if not services.demo or not isinstance(services.sender, ConsoleSender):
        raise web.HTTPNotFound()
    return services.sender


def message_id(message: ConsoleMessage) -> int:
    """``console-7`` -> 7: the console sender numbers its messages from 1."""
    return int(message.sid.rpartition("-")[2])


def linkified(body: str) -> list[tuple[str, str]]:
    """``(kind, text)`` parts, ``kind`` ``"link"`` for http(s) URLs: the template escapes
    every part, so the body never becomes markup, and only web links become anchors."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _URL.finditer(body):
        if match.start() > position:
            parts.append(("text", body[position : match.start()]))
        parts.append(("link", match.group()))
        position = match.end()
    if position < len(body):
        parts.append(("text", body[position:]))
    return parts


async def demo_home(request: web.Request) -> web.Response:
    """``/``: in production, where a holder who typed the bare address lands, one link to
    the form (``/verify``); in the demo, what this is and how to try it, the form first."""
    services = request.app[SERVICES]
    language = page_language(request, services.config.verification.default_language)
    pages = request.app[PAGES]
    if not services.demo or not isinstance(services.sender, ConsoleSender):
        return pages.render("home.html", language, title=messages.text("form.title", language))
    return pages.render("demo_home.html", language, title=messages.text("dev.home_title", language))


async def inbox_page(request: web.Request) -> web.Response:
    sender = _console(request)
    language = page_language(request, request.app[SERVICES].config.verification.default_language)
    taipei = messages.text("dev.taipei", language)
    shown = [
        {
            "id": message_id(message),
            "to": _shown_phone(message.to),
            "at": message.at.astimezone(TAIPEI).strftime(f"%Y/%m/%d %H:%M:%S {taipei}"),
            "parts": linkified(message.body),
        }
        for message in reversed(sender.recent)
    ]
    return request.app[PAGES].render(
        "dev_inbox.html",
        language,
        title=messages.text("dev.inbox_title", language),
        messages=shown,
    )


def _shown_phone(e164: str) -> str:
    """``0912-345-678``, as people write a Taiwanese mobile (E.164 if it is not one)."""
    try:
        return Phone.parse(e164, regions=("TW",)).display
    except InvalidInput:
        return e164


async def inbox_json(request: web.Request) -> web.Response:
    sender = _console(request)
    query = request.query
    try:
        after = int(query.get("after", "0"))
    except ValueError:
        return _bad_request("after must be a whole number, e.g. after=0")
    to: str | None = None
    if query.get("to"):
        regions = request.app[SERVICES].config.phone.allowed_regions
        try:
            to = Phone.parse(query["to"], regions=regions).e164
        except InvalidInput:
            return _bad_request("to must be a mobile number, e.g. to=0960123411")
    found = [
        {"id": message_id(m), "to": m.to, "body": m.body, "at": m.at.isoformat()}
        for m in sender.recent
        if message_id(m) > after and (to is None or m.to == to)
    ]
    return web.json_response(found, headers=_JSON_HEADERS)


def _bad_request(problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=400, headers=_JSON_HEADERS)
