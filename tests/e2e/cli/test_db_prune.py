"""``portpass db prune [--dry-run]``: what the retention policy would delete, then
deleting it; the retention settings' lower bounds are the bot's own needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config import ConfigError, load_config
from storage.registry.importer import DEMO_REGISTRY


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'live.db'}")
    return tmp_path


def audit_subjects(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT subject FROM audit_log ORDER BY id")]


def test_dry_run_shows_what_would_go_then_prune_deletes_it(capsys, workdir: Path):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    with sqlite3.connect(workdir / "live.db") as conn:
        conn.executemany(
            "INSERT INTO audit_log (at, actor, channel, action, subject, detail) "
            "VALUES (?, 'cli', 'cli', 'test', ?, '{}')",
            [("2020-01-01 00:00:00", "ancient"), ("2099-01-01 00:00:00", "future")],
        )
    before = audit_subjects(workdir / "live.db")
    capsys.readouterr()

    assert main(["db", "prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "audit_log: would delete 1 (kept 365 days)" in out
    assert "verification_requests: would delete 0 (kept 90 days)" in out
    assert "dry run: nothing was deleted" in out
    assert audit_subjects(workdir / "live.db") == before

    assert main(["db", "prune"]) == 0
    assert "audit_log: deleted 1 (kept 365 days)" in capsys.readouterr().out
    assert "ancient" not in audit_subjects(workdir / "live.db")
    assert "future" in audit_subjects(workdir / "live.db")


def test_retention_settings_are_read_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv("PORTPASS_RETENTION_AUDIT_LOG_DAYS", "30")
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    assert main(["db", "prune", "--dry-run"]) == 0
    assert "audit_log: would delete 0 (kept 30 days)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("key", "value"),
    [("VERIFICATION_REQUESTS_DAYS", "1"), ("CONVERSATIONS_DAYS", "1"), ("AUDIT_LOG_DAYS", "7")],
)
def test_a_retention_shorter_than_the_bot_needs_is_refused(tmp_path: Path, key, value):
    with pytest.raises(ConfigError, match=f"retention.{key.lower()} must be between"):
        load_config(None, {f"PORTPASS_RETENTION_{key}": value}, cwd=tmp_path)
