"""A section of the configuration file: :class:`Section`, the dataclass base that checks
every field as it is built, and the helpers that type raw values for it
(:func:`field_types`, :func:`checked`, :func:`problem`), which :mod:`bot.config.loading`
reads raw values with. Apart from :mod:`bot.config.sections` so that sections kept in
modules of their own (:mod:`bot.config.texts`) can share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, ClassVar, get_type_hints

from bot.config.errors import ConfigError
from bot.config.secret import Secret


class Section:
    """Checks every field on construction, so a section is valid however it was built."""

    name: ClassVar[str]
    if TYPE_CHECKING:  # every section is a dataclass: lets mypy accept fields(section)
        __dataclass_fields__: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            try:
                value = checked(type(self), spec.name, value)
            except ValueError as error:
                raise ConfigError(
                    f"{self.name}.{spec.name}", problem(type(self), spec.name, error, value)
                ) from None
            object.__setattr__(self, spec.name, value)


# --- typing values ---------------------------------------------------------------------


def field_types(section: type[Section]) -> dict[str, Any]:
    """The section's field types by key, in declaration order."""
    hints = get_type_hints(section)
    return {spec.name: hints[spec.name] for spec in fields(section)}


def _field_meta(section: type[Section], key: str) -> Mapping[str, Any]:
    return next(spec.metadata for spec in fields(section) if spec.name == key)


def checked(section: type[Section], key: str, value: Any) -> Any:
    """``value`` (a TOML or Python value) as the field's type, checked and normalised."""
    hint = field_types(section)[key]
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


def problem(section: type[Section], key: str, error: ValueError, value: Any) -> str:
    """The error, with the value that caused it unless that value is a secret."""
    quiet = field_types(section)[key] is Secret or not _field_meta(section, key).get("echo", True)
    return str(error) if quiet else f"{error}; got {value!r}"
