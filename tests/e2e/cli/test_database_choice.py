"""Run outside the project directory, a command used to create an empty ``portpass.db``
there and print an empty table. A command that only reads never creates a database, and
a command says which database it opened when it is new or holds no passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from storage.registry.importer import DEMO_REGISTRY


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_DATABASE_URL", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_SECURITY_SECRET_KEY", "cli-secret-key-" + "z" * 32)
    return tmp_path


READ_ONLY = [
    ["status"],
    ["status", "--format", "json"],
    ["operator", "list"],
    ["operator", "code", "3f2a9c41"],
    ["notices", "list"],
    ["campaign", "list"],
    ["campaign", "show", "1"],
    ["db", "prune", "--dry-run"],
    ["db", "backup", "copy.db"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database(
    capsys: pytest.CaptureFixture[str], workdir: Path, argv: list[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"no database at {workdir / 'portpass.db'}" in err and "--config" in err
    assert list(workdir.iterdir()) == []


def test_a_new_database_is_named(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    assert f"created a new database at {workdir / 'portpass.db'}" in capsys.readouterr().err
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    assert "database" not in capsys.readouterr().err  # the usual case stays quiet


def test_an_empty_database_is_named(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    err = capsys.readouterr().err
    assert f"the database at {workdir / 'portpass.db'} holds no passes yet" in err
    assert "portpass import FILE" in err


def test_operator_ids_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    assert main(["operator", "add", "--name", "甲", "--company", "高雄港測試業者"]) == 0
    capsys.readouterr()
    assert main(["operator", "list"]) == 0
    assert "ID is the operator's id, a hex string" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["operator", "revoke", "--help"])
    assert "hex string" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["operator", "--help"])
    assert "hex string" in capsys.readouterr().out
