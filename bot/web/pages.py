"""Our few HTML pages (the link page, the demo inbox): templates, language, headers.

Jinja2 with autoescape everywhere, so a value from the database can never become
markup. Every page carries the same defensive headers; the one inline stylesheet is
allowed by its hash rather than by ``'unsafe-inline'``, so even an injected
``<style>`` or ``<script>`` would not run. The pages need no JavaScript and load
nothing from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from bot.config import OrganisationConfig
from bot.services import CONFIG
from core import messages

#: ``lang`` attribute per language of ours (BCP 47: Traditional Chinese as used in Taiwan).
_HTML_LANG = {messages.ZH: "zh-Hant-TW", messages.EN: "en", messages.VI: "vi", messages.ID: "id"}


class Pages:
    """Renders a template into a response with the security headers set. Every page
    names who runs the bot and whom to ask (``[organisation]``): a holder who opens a
    link from an SMS must be able to tell it is not fraud."""

    def __init__(self, organisation: OrganisationConfig | None = None) -> None:
        self._organisation = organisation or OrganisationConfig()
        self._env = Environment(
            loader=PackageLoader("bot.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,  # a misspelt variable fails the test, not the page
            trim_blocks=True,
            lstrip_blocks=True,
        )
        css = self._env.get_template("_style.html").render()
        self._css = Markup(css)  # noqa: S704 - our own file, not user input
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        self.headers: Mapping[str, str] = {
            # 'none' first: nothing loads unless allowed below. The link token is in the
            # URL, so no referrer leaves for another site (same-origin: our own form's
            # POST still names our origin, which bot.web.link_page checks; no-referrer
            # made browsers send Origin: null), and nothing may frame the page
            # (clickjacking the confirm button).
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }

    def render(
        self,
        template: str,
        language: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> web.Response:
        def t(key: str, /, **params: object) -> str:
            return messages.text(key, language, **params)

        # Every other language, named in its own words; the one a Chinese page's reader
        # most likely wants (English) first, as the page had only that link before.
        others = [(code, messages.NAMES[code]) for code in messages.LANGUAGES if code != language]
        org = self._organisation
        body = self._env.get_template(template).render(
            css=self._css,
            html_lang=_HTML_LANG.get(language, language),
            t=t,
            other_languages=others,
            organisation=org.name_in(language),
            contact=org.contact_in(language),
            org_phone=org.phone,
            org_phone_text=t("org.phone", phone=org.phone) if org.phone else "",
            org_page=org.page_url,
            org_page_text=t("org.page", url=org.page_url) if org.page_url else "",
            **context,
        )
        response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        response.headers.update(self.headers)
        response.headers["Content-Language"] = _HTML_LANG.get(language, language)
        response.headers["Vary"] = "Accept-Language"
        response.headers.update(headers or {})
        return response


PAGES = web.AppKey("pages", Pages)


def install_pages(app: web.Application) -> Pages:
    """One :class:`Pages` per app, whichever module's ``setup`` asks first."""
    if PAGES not in app:
        app[PAGES] = Pages(app[CONFIG].organisation if CONFIG in app else None)
    return app[PAGES]


def page_language(request: web.Request, default: str = messages.ZH) -> str:
    """``?lang=`` (the page's language links) wins; else the browser's Accept-Language."""
    chosen = request.query.get("lang")
    if chosen:
        return messages.lang_or_default(chosen)
    return accept_language(request.headers.get("Accept-Language", ""), default)


def accept_language(header: str, default: str = messages.ZH) -> str:
    """The preferred of our languages in an ``Accept-Language`` header (highest q wins,
    the first listed on a tie), or ``default`` when it names none of them."""
    best, best_q = None, 0.0
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en", "vi", "id", "in"):
            continue
        language = messages.lang_or_default(primary)
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                continue
        if q > best_q:
            best, best_q = language, q
    return best or default
