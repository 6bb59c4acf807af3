"""Typed configuration: one frozen object, built once at start-up.

Order, lowest first: built-in defaults < one TOML file < the environment. The file is
``--config PATH``, else ``$PORTPASS_CONFIG``, else ``./config.toml`` when present. Each
setting ``[section] key`` can be set by ``PORTPASS_<SECTION>_<KEY>``; the standard names
``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN`` and ``TELEGRAM_BOT_TOKEN`` work too (an
empty variable counts as unset). Every value is checked as it is read: a wrong key or
value stops start-up with a :class:`ConfigError` naming the key, where it came from and
what is allowed. Nothing is read at import time; ``config.example.toml`` documents each key.
"""

from __future__ import annotations

import difflib
import hmac
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast, get_type_hints
from urllib.parse import urlsplit

import phonenumbers

CONFIG_ENV = "PORTPASS_CONFIG"
ENV_PREFIX = "PORTPASS_"
STANDARD_ENV = {
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
}
_MASK = "**********"


class ConfigError(Exception):
    """A setting is unknown or wrong; ``key`` is e.g. ``sms.sender``, ``source`` a file
    path or an environment variable (``None`` for a rule between settings)."""

    def __init__(self, key: str, problem: str, source: str | None = None) -> None:
        self.key, self.problem, self.source = key, problem, source
        origin = f" (from {source})" if source else ""
        super().__init__(f"{key} {problem}{origin}")


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or a traceback."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:  # copy.deepcopy, asdict()
        return (Secret, (self._value,))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __repr__(self) -> str:
        return f"Secret('{_MASK if self._value else ''}')"

    def __str__(self) -> str:
        return _MASK


_NO_SECRET = Secret("")


# --- checks: each returns the (normalised) value or raises ValueError("must ...") -------

Check = Callable[[Any], Any]


def _between(low: float, high: float) -> Check:
    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return value

    return check


def _host(value: str) -> str:
    if not value or any(char.isspace() for char in value):
        raise ValueError("must be a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0")
    return value


def _http_url(value: str) -> str:
    """An absolute http(s) URL without query or fragment; a trailing slash is dropped."""
    value = value.rstrip("/")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(char.isspace() for char in value)
    ):
        raise ValueError("must be an absolute http:// or https:// URL, e.g. https://pp.example.tw")
    return value


_SQLITE_PREFIXES = ("sqlite:///", "sqlite+aiosqlite:///")
_DATABASE_PREFIXES = (*_SQLITE_PREFIXES, "postgresql://", "postgresql+asyncpg://")


def _database_url(value: str) -> str:
    if not value.startswith(_DATABASE_PREFIXES) or (
        value.startswith("postgresql") and value.endswith("://")
    ):
        raise ValueError(f"must start with one of: {', '.join(_DATABASE_PREFIXES)}")
    return value


def _regions(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or any(
        not re.fullmatch(r"[A-Z]{2}", code) or code not in phonenumbers.SUPPORTED_REGIONS
        for code in value
    ):
        raise ValueError("must be a non-empty list of upper-case ISO 3166 codes, e.g. TW")
    return tuple(dict.fromkeys(value))


def _secret_key(value: Secret) -> Secret:
    if value and len(value.reveal()) < 32:
        raise ValueError("must be at least 32 characters (or empty: see resolve_secret_key)")
    return value


def _prefixed(prefix: str) -> Check:
    def check(value: str) -> str:
        if value and not re.fullmatch(rf"{prefix}[0-9A-Za-z]+", value):
            raise ValueError(f"must start with {prefix} followed by letters and digits")
        return value

    return check


def _sender_id(value: str) -> str:
    if value and not (
        re.fullmatch(r"\+[1-9][0-9]{6,14}", value)
        or re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}", value)
    ):
        raise ValueError("must be an E.164 number like +15005550006 or an alphanumeric sender ID")
    return value


def _webhook_secret(value: Secret) -> Secret:
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.reveal()):
        raise ValueError("must be 1-256 characters from A-Z a-z 0-9 _ -")
    return value


def _rule(check: Check, *, echo: bool = True) -> dict[str, Any]:
    """Field metadata: the check, and whether an error may show the value (``echo``)."""
    return {"check": check, "echo": echo}


# --- sections ------------------------------------------------------------------------


class _Section:
    """Checks every field on construction, so a section is valid however it was built."""

    name: ClassVar[str]
    if TYPE_CHECKING:  # every section is a dataclass: lets mypy accept fields(section)
        __dataclass_fields__: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            try:
                value = _checked(type(self), spec.name, value)
            except ValueError as error:
                raise ConfigError(
                    f"{self.name}.{spec.name}", _problem(type(self), spec.name, error, value)
                ) from None
            object.__setattr__(self, spec.name, value)


@dataclass(frozen=True)
class ServerConfig(_Section):
    name = "server"
    host: str = field(default="127.0.0.1", metadata=_rule(_host))
    port: int = field(default=8080, metadata=_rule(_between(1, 65535)))
    public_base_url: str = field(default="http://127.0.0.1:8080", metadata=_rule(_http_url))
    max_body_bytes: int = field(default=65536, metadata=_rule(_between(1024, 10 * 1024 * 1024)))


@dataclass(frozen=True, repr=False)
class DatabaseConfig(_Section):
    name = "database"
    url: str = field(default="sqlite:///portpass.db", metadata=_rule(_database_url, echo=False))

    def __repr__(self) -> str:  # a PostgreSQL URL may carry a password
        return f"DatabaseConfig(url={_PASSWORD.sub(_hide_password, self.url)!r})"


_PASSWORD = re.compile(r"(?<=://)([^:/@]*):[^@/]*@")


def _hide_password(match: re.Match[str]) -> str:
    return f"{match.group(1)}:{_MASK}@"


@dataclass(frozen=True)
class SecurityConfig(_Section):
    name = "security"
    secret_key: Secret = field(default=_NO_SECRET, metadata=_rule(_secret_key))


@dataclass(frozen=True)
class VerificationConfig(_Section):
    name = "verification"
    code_ttl_hours: int = field(default=24, metadata=_rule(_between(1, 168)))
    max_code_attempts: int = field(default=5, metadata=_rule(_between(1, 20)))
    lookup_failures_per_hour: int = field(default=5, metadata=_rule(_between(1, 100)))
    conversation_idle_minutes: int = field(default=30, metadata=_rule(_between(1, 1440)))
    default_language: str = field(default="zh-TW", metadata=_rule(_one_of("zh-TW", "en")))


@dataclass(frozen=True)
class PhoneConfig(_Section):
    name = "phone"
    allowed_regions: tuple[str, ...] = field(default=("TW",), metadata=_rule(_regions))


@dataclass(frozen=True)
class SmsConfig(_Section):
    name = "sms"
    sender: str = field(default="console", metadata=_rule(_one_of("console", "twilio")))
    max_per_second: float = field(default=10.0, metadata=_rule(_positive))
    max_attempts: int = field(default=8, metadata=_rule(_between(1, 50)))


@dataclass(frozen=True)
class TwilioConfig(_Section):
    name = "twilio"
    account_sid: str = field(default="", metadata=_rule(_prefixed("AC")))
    auth_token: Secret = _NO_SECRET
    from_number: str = field(default="", metadata=_rule(_sender_id))
    messaging_service_sid: str = field(default="", metadata=_rule(_prefixed("MG")))
    api_base_url: str = field(default="https://api.twilio.com", metadata=_rule(_http_url))


@dataclass(frozen=True)
class TelegramConfig(_Section):
    name = "telegram"
    token: Secret = _NO_SECRET
    mode: str = field(default="webhook", metadata=_rule(_one_of("webhook", "polling")))
    webhook_secret: Secret = field(default=_NO_SECRET, metadata=_rule(_webhook_secret))
    api_base_url: str = field(default="https://api.telegram.org/bot", metadata=_rule(_http_url))
    set_webhook: bool = False


@dataclass(frozen=True)
class LoggingConfig(_Section):
    name = "logging"
    level: str = field(default="INFO", metadata=_rule(_one_of("DEBUG", "INFO", "WARNING", "ERROR")))


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
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def __post_init__(self) -> None:
        _check_twilio(self)
        _check_telegram(self)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file (relative paths are relative to the working
        directory, as SQLAlchemy reads them), or ``None`` for PostgreSQL or ``:memory:``."""
        url = self.database.url
        for prefix in _SQLITE_PREFIXES:
            if url.startswith(prefix):
                path = url.removeprefix(prefix).split("?", 1)[0]
                return Path(path) if path not in ("", ":memory:") else None
        return None


SECTIONS: dict[str, type[_Section]] = {
    spec.name: cast(type[_Section], spec.default_factory) for spec in fields(Config)
}


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


# --- typing values ---------------------------------------------------------------------


def _hints(section: type[_Section]) -> dict[str, Any]:
    """The section's field types by key, in declaration order."""
    hints = get_type_hints(section)
    return {spec.name: hints[spec.name] for spec in fields(section)}


def _field_meta(section: type[_Section], key: str) -> Mapping[str, Any]:
    return next(spec.metadata for spec in fields(section) if spec.name == key)


def _checked(section: type[_Section], key: str, value: Any) -> Any:
    """``value`` (a TOML or Python value) as the field's type, checked and normalised."""
    hint = _hints(section)[key]
    if hint is bool and not isinstance(value, bool):
        raise ValueError("must be true or false")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError("must be an integer")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        value = float(value)
    if hint is str and not isinstance(value, str):
        raise ValueError("must be a string")
    if hint is Secret:
        if not isinstance(value, str | Secret):
            raise ValueError("must be a string")
        value = Secret(value) if isinstance(value, str) else value
    if hint == tuple[str, ...]:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        value = tuple(value)
    check = _field_meta(section, key).get("check")
    return check(value) if check else value


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _from_env(section: type[_Section], key: str, text: str) -> Any:
    """An environment string as the field's type (lists are comma-separated)."""
    hint, text = _hints(section)[key], text.strip()
    if hint is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"must be one of: {', '.join(_TRUE + _FALSE)}")
        return text.lower() in _TRUE
    if hint is int or hint is float:
        try:
            return hint(text)
        except ValueError:
            raise ValueError(f"must be {'an integer' if hint is int else 'a number'}") from None
    if hint == tuple[str, ...]:
        return [item.strip() for item in text.split(",") if item.strip()]
    return text


def _problem(section: type[_Section], key: str, error: ValueError, value: Any) -> str:
    """The error, with the value that caused it unless that value is a secret."""
    quiet = _hints(section)[key] is Secret or not _field_meta(section, key).get("echo", True)
    return str(error) if quiet else f"{error}; got {value!r}"


def _value(section: str, key: str, raw: Any, source: str, *, env: bool = False) -> Any:
    cls = SECTIONS[section]
    try:
        return _checked(cls, key, _from_env(cls, key, raw) if env else raw)
    except ValueError as error:
        raise ConfigError(f"{section}.{key}", _problem(cls, key, error, raw), source) from None


# --- loading ---------------------------------------------------------------------------


def load_config(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
) -> Config:
    """Build the configuration: defaults < file < environment (``os.environ`` if None)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    found = _find_file(path, env, cwd)
    if found is not None:
        for section, settings in _read_file(found).items():
            values[section].update(settings)
    for section, key, value in _read_env(env):
        values[section][key] = value
    sections: dict[str, Any] = {name: SECTIONS[name](**kw) for name, kw in values.items()}
    return Config(**sections)


def _find_file(path: str | Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if path is not None:
        given, origin = Path(path), "--config"
    elif env.get(CONFIG_ENV):
        given, origin = Path(env[CONFIG_ENV]), CONFIG_ENV
    else:
        default = cwd / "config.toml"
        return default if default.is_file() else None
    given = given if given.is_absolute() else cwd / given
    if not given.is_file():
        raise ConfigError("config file", f"{given} does not exist or is not a file", origin)
    return given


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError("config file", f"{path} cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("config file", f"{path} is not valid TOML: {error}") from None
    source, read = str(path), {}
    for section, table in document.items():
        if section not in SECTIONS:
            raise ConfigError(section, f"is not a known section{_known(section, SECTIONS)}", source)
        if not isinstance(table, dict):
            raise ConfigError(section, f"must be a table: [{section}]", source)
        keys = _hints(SECTIONS[section])
        for key in table:
            if key not in keys:
                raise ConfigError(
                    f"{section}.{key}", f"is not a known key{_known(key, keys)}", source
                )
        read[section] = {key: _value(section, key, raw, source) for key, raw in table.items()}
    return read


def _read_env(env: Mapping[str, str]) -> list[tuple[str, str, Any]]:
    """``(section, key, value)`` for each variable set; ``PORTPASS_*`` names win over the
    standard names. A ``PORTPASS_<SECTION>_*`` name that matches no key is an error."""
    read: dict[tuple[str, str], Any] = {}
    for name, (section, key) in STANDARD_ENV.items():
        if env.get(name, "").strip():
            read[section, key] = _value(section, key, env[name], name, env=True)
    for name, text in env.items():
        for section, cls in SECTIONS.items():
            prefix = f"{ENV_PREFIX}{section.upper()}_"
            if not name.startswith(prefix):
                continue
            key = name.removeprefix(prefix).lower()
            if key not in _hints(cls):
                raise ConfigError(
                    f"{section}.{key}", f"is not a known key{_known(key, _hints(cls))}", name
                )
            if text.strip():
                read[section, key] = _value(section, key, text, name, env=True)
    return [(section, key, value) for (section, key), value in read.items()]


def _known(name: str, choices: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(choices)}){guess}"
