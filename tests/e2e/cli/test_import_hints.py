"""What ``portpass import`` suggests when it refuses a file: ``--skip-invalid`` only
where it would import something (not for a missing column or an empty file, where it
used to be offered too), and a misspelt column named with the name it looks like."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from storage.registry.importer import DEMO_REGISTRY

HEADER, *ROWS = DEMO_REGISTRY.read_text(encoding="utf-8").splitlines()


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'hints.db'}")
    return tmp_path


def refused(capsys: pytest.CaptureFixture[str], workdir: Path, text: str) -> str:
    path = workdir / "registry.csv"
    path.write_text(text, encoding="utf-8")
    assert main(["import", str(path)]) == 1
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "\n".join([HEADER.replace(",company", ""), *(r.rsplit(",", 2)[0] for r in ROWS)]),
        "\n".join([HEADER + ",company", *(r + ",X" for r in ROWS)]),
    ],
    ids=["empty", "blank lines", "missing column", "two company columns"],
)
def test_skip_invalid_is_not_offered_when_it_cannot_help(
    capsys: pytest.CaptureFixture[str], workdir: Path, text: str
) -> None:
    err = refused(capsys, workdir, text)
    assert "nothing was imported" in err and "cannot help" in err
    assert "or use --skip-invalid" not in err


def test_skip_invalid_is_not_offered_when_no_row_is_valid(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    err = refused(capsys, workdir, f"{HEADER}\nnot-a-pass,x,,,,,,\nalso,bad,,,,,,\n")
    assert "no row is valid" in err and "--skip-invalid" not in err


def test_skip_invalid_is_offered_with_what_it_would_import(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    err = refused(capsys, workdir, "\n".join([HEADER, *ROWS, "not-a-pass,x,,,,,,"]))
    assert f"or use --skip-invalid to import the {len(ROWS)} valid rows" in err


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("phnoe", "phone"),
        ("Valid_Form", "valid_from"),
        ("手機號", "手機號碼"),
        ("pass no", "pass_no"),
    ],
)
def test_a_misspelt_column_is_named_with_what_it_looks_like(
    capsys: pytest.CaptureFixture[str], workdir: Path, typo: str, meant: str
) -> None:
    wrong = HEADER.replace(meant if meant.isascii() else "phone", typo, 1)
    err = refused(capsys, workdir, "\n".join([wrong, *ROWS]))
    assert "missing column(s)" in err
    assert f"the column {typo!r} looks like {meant}: rename it {meant}" in err
    assert "--skip-invalid" in err and "cannot help" in err


def test_an_unrelated_column_is_not_taken_for_a_typo(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    err = refused(capsys, workdir, "\n".join([HEADER.replace("phone", "remarks"), *ROWS]))
    assert "missing column(s): 手機號碼 phone" in err and "looks like" not in err
