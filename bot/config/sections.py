"""The settings: one frozen dataclass per ``[section]`` of the file, and
:class:`Config`, which holds them all and checks the rules between settings.

A section checks every field as it is built (:class:`bot.config.section.Section`), so
a section is valid however it was made: from a file, the environment or a test's
constructor.

Why one module: every section is a short dataclass of the same shape, and ``Config``
checks the rules between them; split by section, a reader would look in a dozen files to
learn what the file may say, which ``config.example.toml`` and this module each show whole.
The SMS texts, four sections of one shape, are in :mod:`bot.config.texts`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import cast

from bot.config import checks
from bot.config.checks import SQLITE_PREFIXES, rule
from bot.config.errors import ConfigError
from bot.config.secret import MASK, NO_SECRET, Secret
from bot.config.section import Section, checked, field_types, problem
from bot.config.texts import (
    TextsConfig,
    TextsEnConfig,
    TextsIdConfig,
    TextsViConfig,
    TextsZhTwConfig,
)
from core import messages
from core.verification.wording import SmsWording

__all__ = [
    "REMOVED_KEYS",
    "SECTIONS",
    "Config",
    "Section",
    "checked",
    "field_types",
    "problem",
]


@dataclass(frozen=True)
class ServerConfig(Section):
    name = "server"
    host: str = field(default="127.0.0.1", metadata=rule(checks.host))
    port: int = field(default=8080, metadata=rule(checks.between(1, 65535)))
    public_base_url: str = field(default="http://127.0.0.1:8080", metadata=rule(checks.http_url))
    max_body_bytes: int = field(
        default=65536, metadata=rule(checks.between(1024, 10 * 1024 * 1024))
    )
    trusted_proxies: tuple[str, ...] = field(default=(), metadata=rule(checks.networks))
    event_loop: str = field(
        default="auto", metadata=rule(checks.one_of("auto", "uvloop", "asyncio"))
    )


@dataclass(frozen=True, repr=False)
class DatabaseConfig(Section):
    name = "database"
    url: str = field(
        default="sqlite:///portpass.db", metadata=rule(checks.database_url, echo=False)
    )

    def __repr__(self) -> str:  # a PostgreSQL URL may carry a password
        return f"DatabaseConfig(url={_PASSWORD.sub(_hide_password, self.url)!r})"


_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


def _hide_password(match: re.Match[str]) -> str:
    return f"{match.group(1)}:{MASK}@"


@dataclass(frozen=True)
class SecurityConfig(Section):
    name = "security"
    secret_key: Secret = field(default=NO_SECRET, metadata=rule(checks.secret_key))


@dataclass(frozen=True)
class VerificationConfig(Section):
    name = "verification"
    code_ttl_hours: int = field(default=24, metadata=rule(checks.between(1, 168)))
    max_code_attempts: int = field(default=5, metadata=rule(checks.between(1, 20)))
    lookup_failures_per_hour: int = field(default=5, metadata=rule(checks.between(1, 100)))
    conversation_idle_minutes: int = field(default=30, metadata=rule(checks.between(1, 1440)))
    default_language: str = field(
        default=messages.ZH, metadata=rule(checks.one_of(*messages.LANGUAGES))
    )


#: Keys that once were settings, with what a file or variable that still sets them is told:
#: a key that silently stopped working is worse than one refused with the reason.
REMOVED_KEYS = {
    "sms.max_attempts": (
        "is no longer a setting: an SMS is retried through transient provider errors until "
        "it expires (a verification SMS when its code does, others after 24 hours) and only "
        "a permanent error fails it sooner; delete the key"
    ),
    "sms.sender_name": (
        "has moved: the sender name is set per language, as texts_zh_tw.sender_name "
        "(and texts_en, texts_vi, texts_id); move the value there"
    ),
    "sms.sender_name_en": (
        "has moved: the sender name is set per language, as texts_en.sender_name "
        "(and texts_vi, texts_id for Vietnamese and Indonesian); move the value there"
    ),
}


@dataclass(frozen=True)
class PhoneConfig(Section):
    name = "phone"
    allowed_regions: tuple[str, ...] = field(default=("TW",), metadata=rule(checks.regions))


@dataclass(frozen=True)
class SmsConfig(Section):
    name = "sms"
    sender: str = field(
        default="console", metadata=rule(checks.one_of("console", "twilio", "smpp"))
    )
    max_per_second: float = field(default=10.0, metadata=rule(checks.positive))
    # How long a worker holds an SMS it is sending; a crashed worker's SMS go out again
    # after it. Must exceed the provider timeout plus the wait for a sending slot.
    send_lease_seconds: float = field(default=60.0, metadata=rule(checks.between(1, 3600)))
    # What one SMS segment costs, for a campaign's estimate; 0: not known.
    price_per_segment: float = field(default=0.0, metadata=rule(checks.between(0, 1000)))
    currency: str = field(default="USD", metadata=rule(checks.currency))
    #: Whether a holder's SMS reply reaches us: ``auto`` follows the sender (Twilio
    #: carries no replies from Taiwanese phones: no; an SMPP account's SMSC delivers
    #: them, and the console sender has ``portpass chat``: yes). Where replies cannot
    #: arrive, no message tells a holder to reply by SMS; they are sent to the web form
    #: (``/verify``) instead.
    receives_replies: str = field(default="auto", metadata=rule(checks.one_of("auto", "yes", "no")))

    @property
    def replies_arrive(self) -> bool:
        """``receives_replies`` resolved: ``auto`` is yes for the console sender and for
        SMPP (an SMSC delivers holders' messages), no for Twilio."""
        if self.receives_replies == "auto":
            return self.sender in ("console", "smpp")
        return self.receives_replies == "yes"


@dataclass(frozen=True)
class TwilioConfig(Section):
    name = "twilio"
    account_sid: str = field(default="", metadata=rule(checks.prefixed("AC")))
    auth_token: Secret = NO_SECRET
    from_number: str = field(default="", metadata=rule(checks.sender_id))
    messaging_service_sid: str = field(default="", metadata=rule(checks.prefixed("MG")))
    api_base_url: str = field(default="https://api.twilio.com", metadata=rule(checks.http_url))


@dataclass(frozen=True)
class SmppConfig(Section):
    """An SMPP 3.4 account (a Taiwanese carrier's or aggregator's): two-way SMS, with
    holders' replies and delivery receipts. docs/smpp.md says what each key is."""

    name = "smpp"
    host: str = field(default="", metadata=rule(checks.optional_host))
    port: int = field(default=2775, metadata=rule(checks.between(1, 65535)))
    system_id: str = field(default="", metadata=rule(checks.short_text(15)))
    password: Secret = NO_SECRET
    system_type: str = field(default="", metadata=rule(checks.short_text(12)))
    source_addr: str = field(default="", metadata=rule(checks.short_text(20)))
    source_addr_ton: int = field(default=5, metadata=rule(checks.between(0, 6)))
    source_addr_npi: int = field(default=0, metadata=rule(checks.between(0, 18)))
    bind_mode: str = field(
        default="transceiver",
        metadata=rule(checks.one_of("transceiver", "transmitter_receiver")),
    )
    tls: bool = False
    window: int = field(default=10, metadata=rule(checks.between(1, 1000)))
    enquire_link_seconds: float = field(default=30.0, metadata=rule(checks.between(1, 3600)))
    response_timeout_seconds: float = field(default=10.0, metadata=rule(checks.between(1, 120)))
    #: PDUs per second the account allows (each part of a long SMS is one).
    max_per_second: float = field(default=50.0, metadata=rule(checks.positive))
    concatenation: str = field(default="udh", metadata=rule(checks.one_of("udh", "sar")))
    delivery_receipts: bool = True


@dataclass(frozen=True)
class TelegramConfig(Section):
    name = "telegram"
    token: Secret = NO_SECRET
    mode: str = field(default="webhook", metadata=rule(checks.one_of("webhook", "polling")))
    webhook_secret: Secret = field(default=NO_SECRET, metadata=rule(checks.webhook_secret))
    api_base_url: str = field(
        default="https://api.telegram.org/bot", metadata=rule(checks.http_url)
    )
    set_webhook: bool = False


@dataclass(frozen=True)
class NoticesConfig(Section):
    """Notices: the gate system's API token digests, the SMS contact line,
    and when operators get their daily digest (Taipei time)."""

    name = "notices"
    api_token_sha256: tuple[str, ...] = field(
        default=(), metadata=rule(checks.sha256_hexes, echo=False)
    )
    max_body_bytes: int = field(
        default=4 * 1024 * 1024, metadata=rule(checks.between(1024, 64 * 1024 * 1024))
    )
    contact: str = field(default="所屬公司業者申請人", metadata=rule(checks.notice_contact))
    contact_en: str = field(
        default="your company's pass administrator", metadata=rule(checks.non_blank)
    )
    digest_time: str = field(default="08:00", metadata=rule(checks.clock_time))


@dataclass(frozen=True)
class LoggingConfig(Section):
    name = "logging"
    level: str = field(
        default="INFO",
        metadata=rule(checks.one_of("DEBUG", "INFO", "WARNING", "ERROR", ignore_case=True)),
    )
    #: ``text`` for a person at a terminal; ``json`` (one object a line) for a log shipper.
    format: str = field(default="text", metadata=rule(checks.one_of("text", "json")))


@dataclass(frozen=True)
class OrganisationConfig(Section):
    """Who runs the bot and how a holder can check that it is really them: the name, a
    phone number and a page on the port company's own domain, in each language, on
    every page and in the help replies (a holder taught to distrust SMS links can look
    the number up and call it)."""

    name = "organisation"
    name_zh: str = field(default="臺灣港務股份有限公司", metadata=rule(checks.short_text(60)))
    name_en: str = field(
        default="Taiwan International Ports Corporation", metadata=rule(checks.short_text(80))
    )
    name_vi: str = field(
        default="Công ty Cổ phần Cảng Quốc tế Đài Loan", metadata=rule(checks.short_text(80))
    )
    name_id: str = field(
        default="Perusahaan Pelabuhan Internasional Taiwan", metadata=rule(checks.short_text(80))
    )
    contact_zh: str = field(
        default="如有疑問，請洽您公司的通行證帳號管理員（業者申請人）。",
        metadata=rule(checks.short_text(200)),
    )
    contact_en: str = field(
        default="Questions? Ask your company's pass administrator.",
        metadata=rule(checks.short_text(200)),
    )
    contact_vi: str = field(
        default="Có thắc mắc? Hãy hỏi người quản lý thẻ ra vào của công ty bạn.",
        metadata=rule(checks.short_text(200)),
    )
    contact_id: str = field(
        default="Ada pertanyaan? Tanyakan pengelola kartu pas di perusahaan Anda.",
        metadata=rule(checks.short_text(200)),
    )
    #: A number the holder can look up and call; empty: none shown.
    phone: str = field(default="", metadata=rule(checks.contact_phone))
    #: A page on the port company's own domain about this verification; empty: none.
    page_url: str = field(default="", metadata=rule(checks.https_url_or_empty))

    def name_in(self, language: str) -> str:
        names = {messages.EN: self.name_en, messages.VI: self.name_vi, messages.ID: self.name_id}
        return names.get(language, self.name_zh)

    def contact_in(self, language: str) -> str:
        lines = {
            messages.EN: self.contact_en,
            messages.VI: self.contact_vi,
            messages.ID: self.contact_id,
        }
        return lines.get(language, self.contact_zh)

    def check_line(self, language: str) -> str:
        """「臺灣港務股份有限公司　客服電話 07-5612311　說明 https://…」: what a holder can
        check, for the help replies and the link page."""
        parts = [self.name_in(language)]
        if self.phone:
            parts.append(messages.text("org.phone", language, phone=self.phone))
        if self.page_url:
            parts.append(messages.text("org.page", language, url=self.page_url))
        return messages.text("org.separator", language).join(parts)


@dataclass(frozen=True)
class RetentionConfig(Section):
    """Days each kind of row is kept (why: :mod:`storage.housekeeping`). The lower bounds
    are what the bot itself needs: R2 looks back a day, a conversation may wait a day for
    its code, a retried webhook comes within a day."""

    name = "retention"
    verification_requests_days: int = field(default=90, metadata=rule(checks.between(2, 3650)))
    outbox_days: int = field(default=30, metadata=rule(checks.between(1, 3650)))
    conversations_days: int = field(default=30, metadata=rule(checks.between(2, 3650)))
    inbound_messages_days: int = field(default=1, metadata=rule(checks.between(1, 3650)))
    lookup_failures_days: int = field(default=1, metadata=rule(checks.between(1, 3650)))
    audit_log_days: int = field(default=365, metadata=rule(checks.between(30, 3650)))
    phone_languages_days: int = field(default=365, metadata=rule(checks.between(30, 3650)))


@dataclass(frozen=True)
class MetricsConfig(Section):
    """``GET /metrics`` for Prometheus (:mod:`bot.metrics`): off unless enabled, and then
    readable only from ``allow`` (addresses or networks) or with ``token`` as a bearer
    token."""

    name = "metrics"
    enabled: bool = False
    allow: tuple[str, ...] = field(default=("127.0.0.1", "::1"), metadata=rule(checks.networks))
    token: Secret = field(default=NO_SECRET, metadata=rule(checks.bearer_token))


@dataclass(frozen=True)
class Config:
    """The whole configuration; rules between settings are checked on construction."""

    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    verification: VerificationConfig = field(default_factory=VerificationConfig)
    phone: PhoneConfig = field(default_factory=PhoneConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    smpp: SmppConfig = field(default_factory=SmppConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    notices: NoticesConfig = field(default_factory=NoticesConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    organisation: OrganisationConfig = field(default_factory=OrganisationConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    texts_zh_tw: TextsZhTwConfig = field(default_factory=TextsZhTwConfig)
    texts_en: TextsEnConfig = field(default_factory=TextsEnConfig)
    texts_vi: TextsViConfig = field(default_factory=TextsViConfig)
    texts_id: TextsIdConfig = field(default_factory=TextsIdConfig)

    def __post_init__(self) -> None:
        _check_twilio(self)
        _check_smpp(self)
        _check_telegram(self)
        _check_notice_sms(self)
        _check_metrics(self)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (relative paths are relative to the working
        directory, as SQLAlchemy reads them), or ``None`` for PostgreSQL or ``:memory:``."""
        url = self.database.url
        for prefix in SQLITE_PREFIXES:
            if url.startswith(prefix):
                path = url.removeprefix(prefix).split("?", 1)[0]
                return Path(path) if path not in ("", ":memory:") else None
        return None

    @property
    def texts(self) -> tuple[TextsConfig, ...]:
        return (self.texts_zh_tw, self.texts_en, self.texts_vi, self.texts_id)

    @property
    def sms_wording(self) -> SmsWording:
        """Every language's SMS words: the catalogue's, with what ``[texts_*]`` replaces."""
        return SmsWording(
            {texts.language: texts.wording() for texts in self.texts},
            code_ttl_hours=self.verification.code_ttl_hours,
        )


SECTIONS: dict[str, type[Section]] = {
    spec.name: cast(type[Section], spec.default_factory) for spec in fields(Config)
}


def _check_notice_sms(config: Config) -> None:
    """Every notice SMS in one segment, in every language, with its sender name and its
    contact line: a second segment doubles what every notice costs."""
    from core.notices.texts import NoticeWording, sms_lengths

    wording = NoticeWording(config.notices.contact, config.notices.contact_en, config.sms_wording)
    for texts in config.texts:
        too_long = {
            k: seg for k, seg in sms_lengths(wording, texts.language).items() if seg.count > 1
        }
        if not too_long:
            continue
        kind, seg = max(too_long.items(), key=lambda item: item[1].length)
        key = f"{texts.name}.notice_{kind.value}"
        changed = getattr(texts, f"notice_{kind.value}")
        contact = "notices.contact" if texts.language == messages.ZH else "notices.contact_en"
        raise ConfigError(
            key if changed else contact,
            f"with {texts.name}.sender_name {texts.sender_name!r} first and {contact}, makes "
            f"the {kind.value} notice SMS {seg.length} characters ({seg.count} segments); "
            "shorten one of them to keep every notice in one segment",
        )


def _check_smpp(config: Config) -> None:
    if config.sms.sender != "smpp":
        return
    smpp, when = config.smpp, "is required when sms.sender is smpp"
    for key in ("host", "system_id", "source_addr"):
        if not getattr(smpp, key):
            raise ConfigError(f"smpp.{key}", f"{when} (your carrier gives it; see docs/smpp.md)")
    if not smpp.password:
        raise ConfigError("smpp.password", f"{when} (or set PORTPASS_SMPP_PASSWORD)")
    if len(smpp.password.reveal()) > 8:
        raise ConfigError("smpp.password", "is at most 8 characters in SMPP 3.4")


def _check_twilio(config: Config) -> None:
    if config.sms.sender != "twilio":
        return
    twilio, when = config.twilio, "is required when sms.sender is twilio"
    if not twilio.account_sid:
        raise ConfigError("twilio.account_sid", f"{when} (or set TWILIO_ACCOUNT_SID)")
    if not twilio.auth_token:
        raise ConfigError("twilio.auth_token", f"{when} (or set TWILIO_AUTH_TOKEN)")
    if bool(twilio.from_number) == bool(twilio.messaging_service_sid):
        raise ConfigError(
            "twilio.from_number",
            "or twilio.messaging_service_sid (exactly one of the two) "
            f"{when}; {'both are' if twilio.from_number else 'neither is'} set",
        )


def _check_telegram(config: Config) -> None:
    telegram = config.telegram
    if telegram.token and telegram.mode == "webhook" and not telegram.webhook_secret:
        raise ConfigError(
            "telegram.webhook_secret",
            "is required when telegram.token is set and telegram.mode is webhook "
            "(1-256 characters from A-Z a-z 0-9 _ -)",
        )
    if telegram.set_webhook and telegram.mode != "webhook":
        raise ConfigError("telegram.set_webhook", "can be true only when telegram.mode is webhook")
    if telegram.token and telegram.set_webhook:
        refused = checks.telegram_webhook_url(config.server.public_base_url)
        if refused:
            raise ConfigError("telegram.set_webhook", refused)


def _check_metrics(config: Config) -> None:
    metrics = config.metrics
    if metrics.enabled and not metrics.allow and not metrics.token:
        raise ConfigError(
            "metrics.allow",
            "or metrics.token is required when metrics.enabled is true (else nobody may read it)",
        )
