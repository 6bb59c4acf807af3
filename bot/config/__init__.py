"""Typed configuration: one frozen object, built once at start-up.

- :mod:`bot.config.sections` — the settings, one dataclass per ``[section]``, and
  :class:`Config`, which holds them and checks the rules between them;
- :mod:`bot.config.texts` — the SMS texts, one section per language;
- :mod:`bot.config.checks` — what each value must be;
- :mod:`bot.config.secret` — :class:`Secret`, a value that never shows itself;
- :mod:`bot.config.loading` — defaults < TOML file < environment (:func:`load_config`);
- :mod:`bot.config.secret_key` — the HMAC key: configured, or kept beside SQLite.

Everything callers use is importable from ``bot.config`` itself.
"""

from __future__ import annotations

from bot.config.errors import ConfigError
from bot.config.loading import CONFIG_ENV, ENV_PREFIX, STANDARD_ENV, load_config
from bot.config.secret import Secret
from bot.config.sections import (
    SECTIONS,
    Config,
    DatabaseConfig,
    LoggingConfig,
    MetricsConfig,
    NoticesConfig,
    OrganisationConfig,
    PhoneConfig,
    RetentionConfig,
    SecurityConfig,
    ServerConfig,
    SmppConfig,
    SmsConfig,
    TelegramConfig,
    TwilioConfig,
    VerificationConfig,
)
from bot.config.texts import (
    TextsConfig,
    TextsEnConfig,
    TextsIdConfig,
    TextsViConfig,
    TextsZhTwConfig,
)

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "SECTIONS",
    "STANDARD_ENV",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "LoggingConfig",
    "MetricsConfig",
    "NoticesConfig",
    "OrganisationConfig",
    "PhoneConfig",
    "RetentionConfig",
    "Secret",
    "SecurityConfig",
    "ServerConfig",
    "SmppConfig",
    "SmsConfig",
    "TelegramConfig",
    "TextsConfig",
    "TextsEnConfig",
    "TextsIdConfig",
    "TextsViConfig",
    "TextsZhTwConfig",
    "TwilioConfig",
    "VerificationConfig",
    "load_config",
]
