"""Typed configuration: one frozen object, built once at start-up (see
:mod:`bot.config.sections` for the settings and :func:`load_config` for where they
come from). Everything callers use is importable from ``bot.config``."""

from __future__ import annotations

from bot.config.sections import (
    CONFIG_ENV,
    ENV_PREFIX,
    SECTIONS,
    STANDARD_ENV,
    Config,
    ConfigError,
    DatabaseConfig,
    LoggingConfig,
    PhoneConfig,
    Secret,
    SecurityConfig,
    ServerConfig,
    SmsConfig,
    TelegramConfig,
    TwilioConfig,
    VerificationConfig,
    load_config,
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
    "PhoneConfig",
    "Secret",
    "SecurityConfig",
    "ServerConfig",
    "SmsConfig",
    "TelegramConfig",
    "TwilioConfig",
    "VerificationConfig",
    "load_config",
]
