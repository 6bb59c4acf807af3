"""Back up a SQLite database while ``serve`` keeps writing to it.

Copying ``portpass.db`` with ``cp`` while the server runs can give a torn file (a page
written half-way, or committed pages still in the ``-wal`` file and not copied). SQLite's
online backup API copies a consistent snapshot instead. It copies in one step: the
database is in WAL mode, where a reader never blocks a writer, so one read transaction
gives one snapshot while ``serve`` keeps committing. (Copying in several steps would
restart at every write from another connection, and might never finish under steady
traffic.) The copy is checked (``PRAGMA integrity_check``) before it is reported good.

The copy holds personal data (names, ID numbers, phones): it is created with mode 0600,
and never over an existing file. It does not hold the secret key, without which the live
codes and links in it cannot be checked: keep the key (``security.secret_key``, or the
``portpass.db.secret`` file beside a SQLite database) apart from the backups.

PostgreSQL has its own tools (``pg_dump``), named in the refusal.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """Why a backup could not be made, in one line for the admin."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    bytes: int
    passes: int


def sqlite_path(url: str) -> Path:
    """The file behind a ``sqlite:///`` URL, or a :class:`BackupError` saying what to use."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"db backup copies SQLite files; for {parsed.get_backend_name()} use its own "
            "tools (PostgreSQL: pg_dump --format=custom, restored with pg_restore)"
        )
    if parsed.database in (None, "", ":memory:"):
        raise BackupError("db backup needs a SQLite file, not an in-memory database")
    return Path(parsed.database)


def backup_sqlite(url: str, destination: Path) -> BackupReport:
    """Copy the database at ``url`` to ``destination`` (a new file, mode 0600)."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    if destination.exists():
        raise BackupError(f"{destination} exists: choose a new file name")
    if not destination.parent.is_dir():
        raise BackupError(f"no such directory: {destination.parent}")
    # Created empty with 0600 first, so the copy is never readable by others, not even
    # while it is being written.
    os.close(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(destination)
            try:
                source.backup(target)  # all pages in one step: one snapshot
                # The copy stands alone: no WAL beside it to lose or forget.
                target.execute("PRAGMA journal_mode=DELETE")
                (verdict,) = target.execute("PRAGMA integrity_check").fetchone()
                if verdict != "ok":
                    raise BackupError(f"the copy failed its integrity check: {verdict}")
                (passes,) = target.execute("SELECT count(*) FROM passes").fetchone()
            finally:
                target.close()
        finally:
            source.close()
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return BackupReport(destination, destination.stat().st_size, passes)
