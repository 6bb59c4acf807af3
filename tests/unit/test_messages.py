"""The catalogues of every user text: every key in every language's .po file, none empty
or fuzzy, the same placeholders in each, a message for every error, and the guide's own
wording where the guide gives one."""

from __future__ import annotations

import importlib
import pkgutil
import string
from datetime import UTC, date, datetime

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

import core
from core import messages
from core.errors import PortPassError
from core.verification.sms_text import MAX_REPLY_SEGMENTS, segments

KEYS = sorted(messages.keys())


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _read(language: str) -> Catalog:
    """The .po file as written, without the loader's fallbacks."""
    with messages.catalogue_path(language).open("rb") as file:
        return read_po(file)


RAW = {language: _read(language) for language in messages.LANGUAGES}
TRANSLATIONS = [language for language in messages.LANGUAGES if language != messages.ZH]


def _raw_text(language: str, key: str) -> str:
    message = RAW[language].get(key)
    assert message is not None, f"{key} is missing from the {language} catalogue"
    return str(message.string)


def _both(key: str) -> tuple[str, str]:
    return messages.text(key, messages.ZH), messages.text(key, messages.EN)


def _all_error_classes() -> set[type[PortPassError]]:
    """Every subclass of PortPassError in core, wherever it is defined."""
    for module in pkgutil.iter_modules(core.__path__):
        importlib.import_module(f"core.{module.name}")
    found: set[type[PortPassError]] = set()
    pending: list[type[PortPassError]] = [PortPassError]
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("language", TRANSLATIONS)
def test_every_catalogue_has_exactly_the_source_keys(language: str) -> None:
    """zh-TW is the source: a key missing from a translation, or left there after the
    source dropped it, is a translator's job not done."""
    source = {str(message.id) for message in RAW[messages.ZH] if message.id}
    translated = {str(message.id) for message in RAW[language] if message.id}
    assert sorted(source - translated) == [], f"missing from {language}"
    assert sorted(translated - source) == [], f"in {language} but not in zh-TW"


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_no_text_is_empty_or_fuzzy(language: str) -> None:
    """An empty msgstr would show the fallback language; a fuzzy one is a guess that a
    translator has not confirmed (the loader skips both, so users would not see them)."""
    empty = [m.id for m in RAW[language] if m.id and not str(m.string).strip()]
    fuzzy = [m.id for m in RAW[language] if m.id and m.fuzzy]
    assert (empty, fuzzy) == ([], [])
    assert not RAW[language].fuzzy  # the header too: gettext tools skip a fuzzy catalogue


@pytest.mark.parametrize("key", KEYS)
def test_every_language_uses_the_same_placeholders(key: str) -> None:
    source = _placeholders(_raw_text(messages.ZH, key))
    for language in TRANSLATIONS:
        assert _placeholders(_raw_text(language, key)) == source, (key, language)


@pytest.mark.parametrize("key", KEYS)
def test_every_text_formats_with_its_placeholders(key: str) -> None:
    params = {name: "X" for name in _placeholders(messages.templates(key)[messages.ZH])}
    for language in messages.LANGUAGES:
        assert "{" not in messages.text(key, language, **params)


ERRORS = sorted(_all_error_classes(), key=lambda cls: cls.__name__)


@pytest.mark.parametrize("error", ERRORS, ids=[cls.__name__ for cls in ERRORS])
def test_every_error_has_a_message(error: type[PortPassError]) -> None:
    assert error.key in set(messages.keys()), (
        f"{error.__name__}.key {error.key!r} is not in the catalogue"
    )


def test_english_is_chosen_only_for_english() -> None:
    assert messages.lang_or_default("en-US") == messages.EN
    assert messages.lang_or_default("EN") == messages.EN
    for other in ("zh-hant", "zh-TW", "zh", "ja", "", None):
        assert messages.lang_or_default(other) == messages.ZH


def test_vietnamese_and_indonesian_are_chosen_by_their_codes() -> None:
    """Telegram's language_code and browsers' tags; ``in`` is Indonesian's old code,
    still sent by some Android phones."""
    for code in ("vi", "vi-VN", "VI"):
        assert messages.lang_or_default(code) == messages.VI
    for code in ("id", "id-ID", "in", "in_ID"):
        assert messages.lang_or_default(code) == messages.ID
    for other in ("ind", "vie", "it", "iw"):
        assert messages.lang_or_default(other) == messages.ZH


def test_times_are_shown_in_taipei_and_dates_as_the_guide_writes_them() -> None:
    at = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
    assert "2026/11/28 02:30" in messages.text("request.cool_down", messages.ZH, retry_at=at)
    expires = messages.text("link.expires_at", messages.EN, expires_at=at)
    assert expires == "2026/11/28 02:30 (Taipei time)"
    text = messages.text(
        "request.pass_not_valid",
        messages.ZH,
        valid_from=date(2026, 1, 5),
        valid_to=date(2027, 1, 4),
    )
    assert "2026/01/05 至 2027/01/04" in text


def test_the_guides_wording_is_kept() -> None:
    """R1, R3, R4, R6: holders who read the port company's guide see the same words."""
    assert messages.text("request.no_match").startswith(
        "查無人員通行證或手機資料，無法取得驗證碼！"
    )
    # R3: the guide's 「驗證碼已經成功送出!!」 without its 「!!」, with what to do next.
    assert messages.text("request.sent").startswith("驗證碼已經成功送出。請輸入")
    assert messages.text("input.code") == "請輸入6位數字驗證碼"
    assert (
        messages.text("request.confirm", pass_no="KHPS113-000043")
        == "確定要取得KHPS113-000043人員通行證的手機驗證碼??"
    )
    # R6: no phone, no code; the old system's menu path means nothing in a chat, so the
    # answer says where the phone is added and when the bot sees it.
    no_phone = messages.text("operator.no_phone")
    assert "無法發送驗證碼" in no_phone and "下一次匯入" in no_phone


def test_every_language_is_named_in_its_own_words() -> None:
    """What the link page's language links and Telegram's /lang buttons show."""
    assert messages.NAMES == {
        "zh-TW": "繁體中文",
        "en": "English",
        "vi": "Tiếng Việt",
        "id": "Bahasa Indonesia",
    }
    assert "5" in messages.text("link.rate_limited", messages.EN, seconds=5)


# --- what a holder reads by SMS fits the reply budget in every language -----------------------

#: Every text the SMS conversation may answer with (bot/sms/twiml.py cuts anything longer
#: than MAX_REPLY_SEGMENTS, and a cut is a bug).
_SMS_PREFIXES = ("conv.", "input.", "request.", "check.", "sms.opted_in", "error.generic")
_LONGEST = {
    "pass_no": "KHPS113-000043",
    "value": "A123456789",
    "phone": "0912-345-678",
    "retry_at": datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    "sent_at": datetime(2026, 12, 30, 23, 59, tzinfo=UTC),
    "valid_from": date(2026, 12, 31),
    "valid_to": date(2027, 12, 31),
    "remaining": 4,
    "status": "X" * 12,
    "page": 99,
    "pages": 99,
    "next": 99,
}
SMS_KEYS = [key for key in KEYS if key.startswith(_SMS_PREFIXES)]


@pytest.mark.parametrize("language", messages.LANGUAGES)
@pytest.mark.parametrize("key", SMS_KEYS)
def test_every_sms_reply_fits_the_reply_budget(key: str, language: str) -> None:
    """Vietnamese is UCS-2 (three segments: 201 characters), so its wording is kept short."""
    params = {
        name: _LONGEST.get(name, "X" * 10)
        for name in _placeholders(messages.templates(key)[messages.ZH])
    }
    body = messages.text(key, language, **params)
    if key in ("request.confirm", "conv.confirm_unclear"):  # sent with "reply 1 or 2"
        body += "\n" + messages.text("conv.confirm_hint", language)
    assert segments(body).count <= MAX_REPLY_SEGMENTS, (key, language, segments(body))
