"""Where settings come from, lowest first: built-in defaults < one TOML file < the
environment.

The file is ``--config PATH``, else ``$PORTPASS_CONFIG``, else ``./config.toml`` when
present. Each setting ``[section] key`` can be set by ``PORTPASS_<SECTION>_<KEY>``; the
standard names ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN`` and ``TELEGRAM_BOT_TOKEN``
work too (an empty variable counts as unset). Every value is checked as it is read: a
wrong key or value stops start-up with a :class:`ConfigError` naming the key, where it
came from and what is allowed. Nothing is read at import time; ``config.example.toml``
documents each key.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.config.errors import ConfigError
from bot.config.sections import (
    REMOVED_KEYS,
    SECTIONS,
    Config,
    Section,
    checked,
    field_types,
    problem,
)

CONFIG_ENV = "PORTPASS_CONFIG"
ENV_PREFIX = "PORTPASS_"
STANDARD_ENV = {
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "token"),
}


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _from_env(section: type[Section], key: str, text: str) -> Any:
    """An environment string as the field's type (lists are comma-separated)."""
    hint, text = field_types(section)[key], text.strip()
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


def _value(section: str, key: str, raw: Any, source: str, *, env: bool = False) -> Any:
    cls = SECTIONS[section]
    try:
        return checked(cls, key, _from_env(cls, key, raw) if env else raw)
    except ValueError as error:
        raise ConfigError(f"{section}.{key}", problem(cls, key, error, raw), source) from None


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
        keys = field_types(SECTIONS[section])
        for key in table:
            if key not in keys:
                raise _unknown_key(section, key, keys, source)
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
            if key not in field_types(cls):
                raise _unknown_key(section, key, field_types(cls), name)
            if text.strip():
                read[section, key] = _value(section, key, text, name, env=True)
    return [(section, key, value) for (section, key), value in read.items()]


def _unknown_key(section: str, key: str, keys: Mapping[str, Any], source: str) -> ConfigError:
    """A key that is gone says why and what replaced it; any other names the known ones."""
    removed = REMOVED_KEYS.get(f"{section}.{key}")
    return ConfigError(
        f"{section}.{key}", removed or f"is not a known key{_known(key, keys)}", source
    )


def _known(name: str, choices: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    guess = f"; did you mean {close[0]!r}?" if close else ""
    return f" (known: {', '.join(choices)}){guess}"
