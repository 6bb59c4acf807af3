"""Secrets sent by SMS: 6-digit codes and link tokens, kept only as keyed hashes.

A leaked database must not let anyone verify a pass: codes and tokens are stored as
HMAC-SHA256 under a secret key that lives outside the database, and compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol

CODE_DIGITS = 6
TOKEN_BYTES = 9  # 12 URL-safe characters, 72 bits: short enough for a one-segment SMS


class SecretSource(Protocol):
    """Where codes and tokens come from; tests pass a seeded one."""

    def code(self) -> str: ...

    def token(self) -> str: ...


class SystemSecrets:
    """``secrets`` module: the OS's CSPRNG."""

    def code(self) -> str:
        return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"

    def token(self) -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)


class SecretHasher:
    """Keyed hashes of codes and tokens. A purpose prefix keeps a code's hash from ever
    equalling a token's hash."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._key = key

    def _digest(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def code_hash(self, request_id: str, code: str) -> str:
        """Bound to the request, so equal codes on two requests hash differently."""
        return self._digest(f"code:{request_id}", code)

    def token_hash(self, token: str) -> str:
        return self._digest("token", token)

    def code_matches(self, request_id: str, code: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.code_hash(request_id, code), stored_hash)
