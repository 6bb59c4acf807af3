"""Sealed SMS bodies: what the outbox keeps of a code and a link until they are sent.

A verification SMS carries the code and the link token in clear, because the holder must
read them; the database must not (secrets are kept only as keyed hashes:
docs/design.md#secrets-are-hashed-or-sealed). The outbox row therefore holds two things:
``body``, a redacted copy in which each secret is replaced by ``●`` (what operators and
support may read), and ``sealed``, the full body encrypted with AES-256-GCM
(``cryptography``'s AEAD). The worker opens it at send time, and clears it once the provider
has accepted the message or it has failed, so a backup taken afterwards holds nothing to
decrypt.

The encryption key is derived from the configured secret key by HKDF-SHA256 with a
purpose label of its own (:data:`PURPOSE`): it is never the HMAC key that proves codes
and link tokens, and knowing one derived key tells nothing about the other. The
associated data binds a sealed body to its row's recipient, request, kind and redacted
text, so copying a sealed body onto another row (another phone) makes it unreadable
instead of sending someone's code to a stranger.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSE = b"portpass/outbox-body/aes-256-gcm/v1"
MASK = "●"
_NONCE_BYTES = 12  # AES-GCM's standard nonce, random per message


class SealBroken(Exception):
    """A sealed body that this key cannot open: the secret key changed since it was
    queued, or the row was tampered with. It can never be sent."""


class BodySealer:
    """Seals and opens SMS bodies under a key derived from the secret key."""

    def __init__(self, secret_key: bytes) -> None:
        if len(secret_key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key)
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "BodySealer(key=***)"

    def seal(self, body: str, context: bytes) -> bytes:
        """``nonce || ciphertext || tag``; ``context`` must be given again to open it."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, body.encode("utf-8"), context)

    def open(self, sealed: bytes, context: bytes) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, ciphertext, context).decode("utf-8")
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise SealBroken("the sealed SMS body cannot be opened with this key") from None


def redact(body: str, secrets: Iterable[str]) -> str:
    """``body`` with every occurrence of each secret replaced by as many ``●``
    (longest first, so a code that happens to occur inside a token is not half-done)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        body = body.replace(secret, MASK * len(secret))
    return body
