"""``portpass --version`` and ``--help`` start at once: the parser imports the standard
library only, and a command imports the server, Twilio or Telegram only if it uses them
(the figures are in docs/benchmarks.md, "CLI start-up")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.registry.importer import DEMO_REGISTRY

#: Modules a command that serves nothing must not pay for.
HEAVY = ("aiohttp.web", "telegram", "twilio", "sqlalchemy", "alembic")

PROBE = """
import json, sys
from bot.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(*argv: str, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(  # noqa: S603 (this interpreter, our probe)
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["status", "--help"]])
def test_version_and_help_import_no_server_twilio_or_telegram(argv: list[str]) -> None:
    loaded = modules_after(*argv)
    assert [name for name in HEAVY if name in loaded] == []
    if argv != ["status", "--help"]:  # only that help shows the status words
        assert "core.messages" not in loaded


def test_status_help_still_lists_the_status_words() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "status", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "已驗證" in done.stdout and "pending" in done.stdout


def test_status_on_a_database_at_head_imports_no_server_and_no_alembic(tmp_path: Path) -> None:
    """``import`` and ``status`` need the database only: not the services, and not
    Alembic when the database is at the newest revision (storage.migrate)."""
    env = {**os.environ, "PORTPASS_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    assert "alembic" in modules_after("import", str(DEMO_REGISTRY), env=env)  # it migrates
    loaded = modules_after("status", env=env)
    assert "sqlalchemy" in loaded  # it did read the database
    assert [
        name for name in ("aiohttp.web", "telegram", "twilio", "alembic") if name in loaded
    ] == []
