"""Secrets in the configuration: tokens and keys that must never show themselves in a
``repr``, a log line or a traceback, yet compare and copy like plain values."""

from __future__ import annotations

import hmac

MASK = "**********"


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
        return f"Secret('{MASK if self._value else ''}')"

    def __str__(self) -> str:
        return MASK


NO_SECRET = Secret("")
