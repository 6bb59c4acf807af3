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
#: Operator link codes are read off a terminal and typed into Telegram: upper-case letters
#: and digits without the look-alikes 0/O and 1/I. 32 symbols, 10 of them: 50 bits.
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 10
HANDLE_BYTES = 16


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

    def link_code(self) -> str:
        """A one-time operator link code (see :data:`LINK_CODE_ALPHABET`)."""
        return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))

    def handle(self) -> str:
        """A button's server-side handle: 128 bits, 22 URL-safe characters (Telegram
        callback data holds 64 bytes)."""
        return secrets.token_urlsafe(HANDLE_BYTES)


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

    def link_code_hash(self, code: str) -> str:
        """Operator link codes: looked up by hash, so not bound to a record like codes."""
        return self._digest("link", code)

    def question_hash(self, handle: str) -> str:
        """An operator's pending question (:mod:`core.operators.questions`), looked up
        by the hash of its button's handle: a leaked table names no live button."""
        return self._digest("question", handle)

    def code_matches(self, request_id: str, code: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.code_hash(request_id, code), stored_hash)

    def form_tag(self, token: str) -> str:
        """The link page's anti-forgery field: only this server can compute it for a
        token, and it never equals the token's stored hash (another purpose)."""
        return self._digest("form", token)

    def form_tag_matches(self, token: str, tag: str) -> bool:
        return hmac.compare_digest(self.form_tag(token).encode(), tag.encode())
