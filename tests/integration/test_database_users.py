"""The import's merge pauses between batches so that the server's webhooks get SQLite's
write lock; with no other process on the database, nobody can be waiting, and those
pauses (about a second of a 100,000-row import) were spent for nobody. The merge now
pauses only while another process has the database open."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.registry.database_users import OtherProcesses
from storage.registry.merge_sqlite import LONG_PAUSE_S, MAX_HOLD_S, LockPacer

HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("open", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    path = tmp_path / "registry.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    yield path, db
    db.close()


@pytest.fixture
def server_process(database: tuple[Path, sqlite3.Connection]) -> Iterator[None]:
    """Another process with the database open, as ``portpass serve`` has it."""
    path, _ = database
    holder = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    yield
    holder.communicate(timeout=10)


def test_this_process_alone_is_not_another(database: tuple[Path, sqlite3.Connection]) -> None:
    path, db = database
    second = sqlite3.connect(path)  # more connections of this process change nothing
    second.execute("SELECT 1 FROM t").fetchall()
    assert OtherProcesses(str(path))() is False
    second.close()
    del db


def test_a_database_never_opened_in_wal_mode_has_nobody(tmp_path: Path) -> None:
    assert OtherProcesses(str(tmp_path / "absent.db"))() is False


def test_another_process_is_seen(
    database: tuple[Path, sqlite3.Connection], server_process: None
) -> None:
    path, _ = database
    assert OtherProcesses(str(path))() is True


def test_the_merge_does_not_pause_for_nobody(database: tuple[Path, sqlite3.Connection]) -> None:
    path, db = database
    slept: list[float] = []
    pacer = LockPacer(db, sleep=slept.append, shared=OtherProcesses(str(path)))
    for _ in range(5):
        pacer.after_batch(MAX_HOLD_S)
    assert slept == []


def test_the_merge_pauses_while_the_server_has_the_database_open(
    database: tuple[Path, sqlite3.Connection], server_process: None
) -> None:
    path, db = database
    slept: list[float] = []
    pacer = LockPacer(db, sleep=slept.append, shared=OtherProcesses(str(path)))
    pacer.after_batch(MAX_HOLD_S)
    assert slept and slept[0] == LONG_PAUSE_S
