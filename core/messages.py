"""Every text a user sees, looked up by key in gettext catalogues, one per language.

The texts live in ``core/locale/<lang>/LC_MESSAGES/portpass.po``: Traditional Chinese (the
default, and the source of truth), English, Vietnamese and Indonesian (many holders are
migrant workers: docs/design.md#facts-from-the-field). A message's ``msgid`` is its key
(``input.pass_no``), its ``msgstr`` the text with ``{placeholders}`` for :meth:`str.format`.
The guide's own wording is kept where the guide gives one (R1, R3, R4, R6), so holders who
have read the port company's instructions recognise what the bot says. Channels look texts
up by key; no handler writes a sentence of its own.

Why .po files read with Babel at import, not compiled .mo files: the ``.po`` files are
what translators edit and review, and what the catalogue test reads; reading them
directly means there is no build step to forget, so a fresh clone with an editable
install (``pip install -e .``) and an installed wheel behave alike, and no committed
binary can drift from its source. Reading four catalogues of ~230 messages takes a few
tens of milliseconds, once per process; every lookup after that is two dict lookups.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from babel.messages.pofile import read_po

from core.clock import TAIPEI
from core.errors import PortPassError

ZH = "zh-TW"
EN = "en"
VI = "vi"
ID = "id"
#: Every language a user can choose, the default first.
LANGUAGES = (ZH, EN, VI, ID)
#: For texts to someone whose language is not known (an SMS sender who just opted back
#: in, an API client): short, so only the two languages most holders read.
BILINGUAL = (ZH, EN)
#: Each language named in its own words (Telegram's /lang buttons, the link page).
NAMES = {ZH: "繁體中文", EN: "English", VI: "Tiếng Việt", ID: "Bahasa Indonesia"}

DOMAIN = "portpass"
LOCALE_DIR = Path(__file__).with_name("locale")
#: The gettext locale directory of each of our languages.
_LOCALES = {ZH: "zh_TW", EN: "en", VI: "vi", ID: "id"}


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / _LOCALES[language] / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(language: str) -> dict[str, str]:
    """Key to text; an untranslated (empty) or fuzzy entry is left out, so the text falls
    back (see :func:`_load`) rather than showing a key or a guess. The catalogue test
    fails on either, so this only matters between a translator's edit and the test."""
    with catalogue_path(language).open("rb") as file:
        catalogue = read_po(file, locale=None, domain=DOMAIN)
    return {
        str(message.id): str(message.string)
        for message in catalogue
        if message.id and message.string and not message.fuzzy
    }


def _load() -> dict[str, dict[str, str]]:
    """Every catalogue, each complete: a key missing from a translation falls back to
    English (read by more holders than Chinese among those who chose another language),
    and one missing from English to Chinese."""
    source = _read(ZH)
    english = {**source, **_read(EN)}
    loaded = {ZH: source, EN: english}
    for language in LANGUAGES:
        if language not in loaded:
            translated = _read(language)
            loaded[language] = {key: translated.get(key, english[key]) for key in source}
    return loaded


_CATALOGUES = _load()


def lang_or_default(language: str | None) -> str:
    """Map a Telegram-style language code (``zh-hant``, ``en-US``, ``vi``, ``id``) onto
    ours; anything else is the default, Chinese. ``in`` is the old code for Indonesian
    that some Android versions still report."""
    if not language:
        return ZH
    lowered = language.lower().replace("_", "-")
    primary = lowered.split("-")[0]
    if primary == "en":
        return EN
    if primary == "vi":
        return VI
    if primary in ("id", "in"):
        return ID
    return ZH


def _format_value(value: object, language: str) -> object:
    if isinstance(value, datetime):
        local = value.astimezone(TAIPEI)
        return local.strftime("%Y/%m/%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%Y/%m/%d")
    return value


def text(key: str, language: str = ZH, /, **params: object) -> str:
    """The message ``key`` in ``language``, with ``params`` filled in."""
    template = _CATALOGUES.get(language, _CATALOGUES[ZH])[key]
    return template.format(**{k: _format_value(v, language) for k, v in params.items()})


def render_error(error: PortPassError, language: str = ZH) -> str:
    return text(error.message_key(), language, **error.params())


def keys() -> frozenset[str]:
    return frozenset(_CATALOGUES[ZH])


def templates(key: str) -> dict[str, str]:
    """The unformatted text of ``key`` in every language (for tests and checks)."""
    return {language: _CATALOGUES[language][key] for language in LANGUAGES}
