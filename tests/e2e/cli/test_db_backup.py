"""``portpass db backup PATH``: a consistent copy of a SQLite database taken while another
connection keeps writing, which restores to the same status table."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.registry.importer import DEMO_REGISTRY


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    return tmp_path


def status_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["status", "--format", "json"]) == 0
    rows: list[dict[str, str]] = json.loads(capsys.readouterr().out)
    return rows


def grow(path: Path, rows: int) -> None:
    """Audit rows enough for the backup to take several steps."""
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO audit_log (at, actor, channel, action, subject, detail) "
            "VALUES ('2026-11-29 00:00:00', 'test', 'cli', 'filler', ?, ?)",
            ((f"row {i}", "x" * 400) for i in range(rows)),
        )


def test_backup_while_another_connection_writes_restores_the_same_status(
    capsys, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    live = workdir / "live.db"
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    grow(live, 30_000)  # ~15 MiB: the copy is made in several steps
    before = status_json(capsys)

    stop, written, errors = threading.Event(), [0], []

    def writer() -> None:
        conn = sqlite3.connect(live, timeout=5)
        try:
            while not stop.is_set():
                with conn:
                    conn.execute(
                        "INSERT INTO audit_log (at, actor, channel, action, subject, detail) "
                        "VALUES ('2026-11-29 00:00:01', 'serve', 'sms', 'busy', 's', '{}')"
                    )
                written[0] += 1
        except sqlite3.Error as error:  # the server would have failed a request here
            errors.append(error)
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        code = main(["db", "backup", str(workdir / "copy.db")])
    finally:
        stop.set()
        thread.join()
    out = capsys.readouterr().out
    assert code == 0
    assert "backed up 21 passes" in out and "integrity ok" in out
    assert errors == [] and written[0] > 0

    copy = workdir / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600  # names, ID numbers, phones
    (verdict,) = sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()
    assert verdict == "ok"

    # Restore: the copy becomes the database of a fresh installation.
    restored = workdir / "restored" / "portpass.db"
    restored.parent.mkdir()
    shutil.copy(copy, restored)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{restored}")
    assert main(["db", "upgrade"]) == 0
    assert status_json(capsys) == before


def test_backup_never_overwrites_a_file(capsys, workdir: Path):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    existing = workdir / "yesterday.db"
    existing.write_bytes(b"yesterday's backup")
    capsys.readouterr()
    assert main(["db", "backup", str(existing)]) == 2
    assert "exists: choose a new file name" in capsys.readouterr().err
    assert existing.read_bytes() == b"yesterday's backup"


def test_backup_of_a_missing_database_says_so(capsys, workdir: Path):
    assert main(["db", "backup", str(workdir / "copy.db")]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (workdir / "copy.db").exists()


def test_backup_on_postgresql_names_pg_dump(capsys, monkeypatch: pytest.MonkeyPatch, workdir):
    monkeypatch.setenv("PORTPASS_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setenv("PORTPASS_SECURITY_SECRET_KEY", "k" * 40)
    assert main(["db", "backup", str(workdir / "copy.db")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and err.count("\n") == 1
