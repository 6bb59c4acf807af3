"""``portpass --version`` and ``--help`` start at once: the parser imports the standard
library only, and a command imports the server, Twilio or Telegram only if it uses them
(the figures are in docs/benchmarks.md, "CLI start-up")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


def modules_after(*argv: str) -> set[str]:
    done = subprocess.run(  # noqa: S603 (this interpreter, our probe)
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60
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
