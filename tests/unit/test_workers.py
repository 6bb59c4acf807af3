"""What ``portpass serve --workers N`` decides before it starts anything: the
configurations it refuses with one line. (The SMS rate is not divided among the
workers: on PostgreSQL they book it together, ``tests/e2e/test_processes.py``.)"""

from __future__ import annotations

from pathlib import Path

from bot.config import Config, load_config
from bot.workers import refusal

POSTGRES = "postgresql://portpass@db.example.tw/portpass"


def config_with(tmp_path: Path, url: str, rate: str = "10") -> Config:
    env = {
        "PORTPASS_DATABASE_URL": url,
        "PORTPASS_SMS_MAX_PER_SECOND": rate,
        "PORTPASS_SECURITY_SECRET_KEY": "workers-secret-key-" + "x" * 32,
    }
    return load_config(None, env, cwd=tmp_path)


def test_sqlite_is_refused_with_one_line(tmp_path: Path) -> None:
    config = config_with(tmp_path, f"sqlite:///{tmp_path / 'portpass.db'}")
    assert refusal(config, 1) is None
    message = refusal(config, 2)
    assert message == (
        "--workers 2 needs PostgreSQL (database.url); SQLite is served by one process: "
        "run serve without --workers"
    )


def test_the_demo_and_fewer_than_one_worker_are_refused(tmp_path: Path) -> None:
    config = config_with(tmp_path, POSTGRES)
    assert refusal(config, 2) is None
    assert refusal(config, 2, demo=True) == "--demo runs one process: run it without --workers"
    assert refusal(config, 0) == "--workers must be at least 1, not 0"
