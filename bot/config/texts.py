"""``[texts_zh_tw]``, ``[texts_en]``, ``[texts_vi]``, ``[texts_id]``: the words of the SMS
the bot sends unasked, as the port company sets them, one section per language.

Each template is checked at start (:func:`core.verification.wording.template_problem`):
an unknown or missing placeholder is a :class:`~bot.config.errors.ConfigError` naming
the key. An empty template means the catalogue's words (``core/locale``), which are the
defaults ``portpass check-config`` prints. Why per-language sections rather than one
table of tables: every other setting is ``[section] key``, and so are the environment
variables (``PORTPASS_TEXTS_VI_VERIFICATION``) that can set these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bot.config import checks
from bot.config.checks import rule
from bot.config.section import Section
from core import messages
from core.verification.wording import NOTICE_KINDS, LanguageWording


def _sender(language: str) -> str:
    return messages.templates("sms.sender")[language]


@dataclass(frozen=True)
class TextsConfig(Section):
    """One language's SMS templates (``{placeholders}``, see config.example.toml)."""

    language: ClassVar[str] = messages.ZH
    #: Who is writing, first in every SMS in this language; empty: no name.
    sender_name: str = field(default="", metadata=rule(checks.short_text(20)))
    verification: str = field(default="", metadata=rule(checks.sms_template("verification")))
    reminder: str = field(default="", metadata=rule(checks.sms_template("reminder")))
    notice_suspended_inactive: str = field(default="", metadata=rule(checks.sms_template("notice")))
    notice_abnormal_record: str = field(default="", metadata=rule(checks.sms_template("notice")))
    notice_suspended_abnormal: str = field(default="", metadata=rule(checks.sms_template("notice")))
    notice_reinstated: str = field(default="", metadata=rule(checks.sms_template("notice")))

    def wording(self) -> LanguageWording:
        """The catalogue's words with what this section replaces."""
        base = LanguageWording.catalogue(self.language)
        notices = {
            kind: getattr(self, f"notice_{kind}") or base.notices[kind] for kind in NOTICE_KINDS
        }
        return LanguageWording(
            sender_name=self.sender_name,
            verification=self.verification or base.verification,
            reminder=self.reminder or base.reminder,
            notices=notices,
        )


@dataclass(frozen=True)
class TextsZhTwConfig(TextsConfig):
    name = "texts_zh_tw"
    language = messages.ZH
    sender_name: str = field(default=_sender(messages.ZH), metadata=rule(checks.short_text(20)))


@dataclass(frozen=True)
class TextsEnConfig(TextsConfig):
    name = "texts_en"
    language = messages.EN
    sender_name: str = field(default=_sender(messages.EN), metadata=rule(checks.short_text(20)))


@dataclass(frozen=True)
class TextsViConfig(TextsConfig):
    name = "texts_vi"
    language = messages.VI
    sender_name: str = field(default=_sender(messages.VI), metadata=rule(checks.short_text(20)))


@dataclass(frozen=True)
class TextsIdConfig(TextsConfig):
    name = "texts_id"
    language = messages.ID
    sender_name: str = field(default=_sender(messages.ID), metadata=rule(checks.short_text(20)))
