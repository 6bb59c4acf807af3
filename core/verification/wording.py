"""The words of every SMS the bot sends unasked, as the port company sets them.

The verification, reminder and notice SMS and the sender name put first are templates
with named placeholders, one per language. Their defaults are in the catalogues
(``sms.sender``, ``sms.verification``, ``sms.reminder``, ``notice.sms.<kind>``); the
configuration (``[texts_<language>]``) may replace any of them, and
:func:`template_problem` is what the configuration check runs on a replacement, so an
unknown or missing placeholder stops start-up naming the key instead of failing when
the first holder asks for a code.

Why the words are set by the port company: holders are told by its public notice what
the SMS will say (港區通行證手機驗證), and taught to distrust any other text with a link.
The SMS must read like the notice, whatever the notice says next year.

Why one SMS is signed here, not by the outbox: the sender name is per language (a
Chinese name in a Vietnamese GSM-7 SMS would double its cost), and only the code that
writes the SMS knows its language.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from core import messages

#: Placeholders each kind of template must hold (``required``) and may hold.
REQUIRED: Mapping[str, frozenset[str]] = {
    "verification": frozenset({"last4", "code", "link"}),
    "reminder": frozenset({"last4", "code", "link"}),
    "notice": frozenset({"last4", "date", "contact"}),
    "sender_name": frozenset(),
}
OPTIONAL: Mapping[str, frozenset[str]] = {
    "verification": frozenset({"hours"}),
    "reminder": frozenset({"hours"}),
    "notice": frozenset(),
    "sender_name": frozenset(),
}
#: The notice kinds (``core.notices.events.NoticeKind`` values), spelt here so this
#: kernel module does not import the notices feature.
NOTICE_KINDS = ("suspended_inactive", "abnormal_record", "suspended_abnormal", "reinstated")


def template_problem(kind: str, template: str) -> str | None:
    """Why ``template`` cannot be used as a ``kind`` text, or ``None``. ``kind`` is
    ``verification``, ``reminder``, ``notice`` or ``sender_name``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"is not a valid template ({error}); write a literal brace as {{{{ or }}}}"
    used: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            return "has a placeholder without a name ({}); use {code}, {link} and the like"
        if spec or conversion:
            return f"has a format or conversion on {{{name}}}; write the placeholder alone"
        used.add(name)
    allowed = REQUIRED[kind] | OPTIONAL[kind]
    unknown = sorted(used - allowed)
    if unknown:
        known = ", ".join(f"{{{n}}}" for n in sorted(allowed)) or "none"
        return f"has unknown placeholder {{{unknown[0]}}} (allowed: {known})"
    missing = sorted(REQUIRED[kind] - used)
    if missing:
        return f"lacks the placeholder {{{missing[0]}}} (it must hold " + (
            ", ".join(f"{{{n}}}" for n in sorted(REQUIRED[kind])) + ")"
        )
    return None


@dataclass(frozen=True, slots=True)
class LanguageWording:
    """One language's templates (already checked)."""

    sender_name: str
    verification: str
    reminder: str
    notices: Mapping[str, str]

    @classmethod
    def catalogue(cls, language: str) -> LanguageWording:
        """The catalogue's words for ``language``: the defaults."""
        texts = {key: messages.templates(key)[language] for key in _KEYS}
        return cls(
            sender_name=texts["sms.sender"],
            verification=texts["sms.verification"],
            reminder=texts["sms.reminder"],
            notices={kind: texts[f"notice.sms.{kind}"] for kind in NOTICE_KINDS},
        )


_KEYS = (
    "sms.sender",
    "sms.verification",
    "sms.reminder",
    *(f"notice.sms.{k}" for k in NOTICE_KINDS),
)


def _catalogues() -> dict[str, LanguageWording]:
    return {language: LanguageWording.catalogue(language) for language in messages.LANGUAGES}


@dataclass(frozen=True, slots=True)
class SmsWording:
    """Every language's templates; a language not given speaks the default's words."""

    languages: Mapping[str, LanguageWording] = field(default_factory=_catalogues)
    code_ttl_hours: int = 24

    def _in(self, language: str) -> LanguageWording:
        return self.languages.get(language) or self.languages[messages.ZH]

    def sign(self, body: str, language: str) -> str:
        """``body`` with the language's sender name first (none if it is empty)."""
        name = self._in(language).sender_name
        if not name:
            return body
        # A Latin name is a word of its own; a Chinese one in brackets needs no space.
        return f"{name} {body}" if name[-1].isascii() else f"{name}{body}"

    def verification(
        self, language: str, *, last4: str, code: str, link: str, reminder: bool = False
    ) -> str:
        """The verification SMS (R9), or a campaign's reminder, signed."""
        words = self._in(language)
        template = words.reminder if reminder else words.verification
        body = template.format(last4=last4, code=code, link=link, hours=self.code_ttl_hours)
        return self.sign(body, language)

    def notice(self, kind: str, language: str, *, last4: str, day: date, contact: str) -> str:
        """A notice SMS, signed."""
        template = self._in(language).notices[kind]
        body = template.format(last4=last4, date=day.strftime("%Y/%m/%d"), contact=contact)
        return self.sign(body, language)
