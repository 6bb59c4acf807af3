"""``make run`` installs what the bot needs to run and nothing more; the test and lint
tools come with ``make test``. Read from make's own dry run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def installs(target: str) -> list[str]:
    """The pip install commands ``make TARGET`` would run on a fresh clone."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make (the README's commands use it)")
    dry = subprocess.run(  # noqa: S603 - make, on our own Makefile
        [make, "--dry-run", "--always-make", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in dry.stdout.splitlines() if "pip install" in line and "-e" in line]


def test_make_run_installs_the_runtime_only() -> None:
    assert installs("run") == [".venv/bin/python -m pip install --quiet -e ."]


def test_make_test_installs_the_test_tools() -> None:
    assert installs("test") == [".venv/bin/python -m pip install --quiet -e '.[test]'"]
