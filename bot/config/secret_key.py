"""The HMAC key for codes, link tokens and operator link codes: configured, or made
once and kept beside a SQLite database. Never a constant in code, never in the
database it protects."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from bot.config import Config, ConfigError


def resolve_secret_key(config: Config, *, demo: bool) -> bytes:
    """The key for HMAC of codes and link tokens.

    The configured ``security.secret_key`` if set. Otherwise, when the database is a SQLite
    file, a key generated once and kept beside it in ``<db path>.secret`` (mode 0600), so
    a restart keeps pending codes and links valid. Otherwise, in demo mode only, a key for
    this process alone. Anything else needs a configured key.
    """
    configured = config.security.secret_key.reveal()
    if configured:
        return configured.encode()
    database = config.sqlite_path
    if database is not None:
        return _key_beside(database)
    if demo:
        return secrets.token_urlsafe(48).encode()
    raise ConfigError(
        "security.secret_key",
        "is required unless the database is a SQLite file: set [security] secret_key or "
        "PORTPASS_SECURITY_SECRET_KEY to at least 32 random characters, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
    )


def _key_beside(database: Path) -> bytes:
    path = database.with_name(database.name + ".secret")
    try:
        if not path.exists():
            _create_key_file(path)
        _make_private(path)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            "security.secret_key", f"key file {path} cannot be read or created: {error}"
        ) from None
    if len(key) < 32:
        raise ConfigError(
            "security.secret_key",
            f"key file {path} holds fewer than 32 characters: restore it, or delete it to "
            "generate a new key (codes and links already sent will stop working)",
        )
    return key.encode()


def _make_private(path: Path) -> None:
    """A key file copied in with a loose mode (0644) is made 0600: the key decrypts
    queued SMS bodies and proves codes and links."""
    with contextlib.suppress(OSError):  # not ours to change: reading it still works
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(0o600)


def _create_key_file(path: Path) -> None:
    """Write a new key under a temporary name and link it into place: the key file is
    never seen half-written, and when two processes race the first link wins."""
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
