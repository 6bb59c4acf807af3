"""A secret source that hands out the codes and link tokens a test chose, in order.

Tests that look for a code where it must not be (the database file, a log) need a
value that cannot turn up there by chance: a random 6-digit code may well be a piece
of some phone number or timestamp in a 100 KB database file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class FixedSecrets:
    """:class:`core.codes.SecretSource` returning ``codes`` and ``tokens`` in turn."""

    def __init__(self, codes: Iterable[str], tokens: Iterable[str]) -> None:
        self._codes = deque(codes)
        self._tokens = deque(tokens)

    def code(self) -> str:
        return self._codes.popleft()

    def token(self) -> str:
        return self._tokens.popleft()
