"""``portpass import`` with the registry as the port system really exports it
(docs/configuration.md#importing-the-registry): Chinese column names, Big5 (cp950) or UTF-16
text, commas, semicolons or tabs. Each file is written here in that form and imported
through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.e2e.cli.terminal import run_on_terminal

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "storage" / "demo" / "passes.csv"
CHINESE = {
    "pass_no": "通行證號",
    "id_no": "身分證號",
    "name": "姓名",
    "phone": "手機號碼",
    "valid_from": "有效起日",
    "valid_to": "有效迄日",
    "company": "公司",
    "verified_phone": "已驗證手機號碼",
}


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sample_rows() -> list[list[str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


def export(
    path: Path,
    *,
    encoding: str,
    delimiter: str = ",",
    header: dict[str, str] | None = None,
    bom: bytes = b"",
) -> Path:
    """The sample registry as a file of that encoding, delimiter and header names."""
    rows = sample_rows()
    if header is not None:
        rows[0] = [header.get(name, name) for name in rows[0]]
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(bom + text.getvalue().encode(encoding))
    return path


def statuses(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    code, out, _ = run(capsys, "status", "--format", "json")
    assert code == 0
    return {row["pass_no"]: row for row in json.loads(out)}


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter", "label"),
    [
        ("cp950", b"", ",", "Big5 (cp950)"),
        ("big5", b"", ";", "Big5 (cp950)"),
        ("utf-16-le", b"\xff\xfe", "\t", "UTF-16"),  # Excel's "Unicode text"
        ("utf-16-be", b"", "\t", "UTF-16"),
        ("utf-8", b"\xef\xbb\xbf", ";", "UTF-8"),
    ],
)
def test_the_exports_of_the_port_system_import_alike(
    capsys: pytest.CaptureFixture[str],
    workdir: Path,
    encoding: str,
    bom: bytes,
    delimiter: str,
    label: str,
) -> None:
    path = export(
        workdir / "registry.csv", encoding=encoding, delimiter=delimiter, header=CHINESE, bom=bom
    )
    code, out, err = run(capsys, "import", str(path))
    assert code == 0, err
    assert "passes: 21 new, 0 updated, 0 unchanged, 0 invalid" in out
    separator = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
    assert f"{label}, {separator}-separated, 21 rows" in out
    found = statuses(capsys)
    assert len(found) == 21
    assert found["TCPS113-000101"]["name"] == "臺中測試甲"  # read, not mojibake
    assert found["TCPS113-000101"]["company"] == "臺中港測試公司"
    assert found["KHPS111-000014"]["status"] == "pending"


@pytest.mark.parametrize(
    "names",
    [
        {"id_no": "身份證號", "company": "業者"},
        {"id_no": "身分證字號", "phone": " 手機號碼 "},
        {"pass_no": "PASS_NO", "name": "Name"},  # English names, in any case
    ],
)
def test_header_variants(
    capsys: pytest.CaptureFixture[str], workdir: Path, names: dict[str, str]
) -> None:
    path = export(workdir / "registry.csv", encoding="utf-8", header={**CHINESE, **names})
    code, out, err = run(capsys, "import", str(path))
    assert code == 0, err
    assert "21 new" in out


def test_two_columns_for_one_field_are_refused_by_name(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    path = workdir / "both.csv"
    rows = sample_rows()
    rows[0] = [CHINESE[name] for name in rows[0]]
    rows[0].append("業者")
    for row in rows[1:]:
        row.append(row[6])
    path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "import", str(path))
    assert code == 1
    assert "公司" in err and "業者" in err and "company" in err
    assert statuses(capsys) == {}


def test_missing_columns_are_named_in_chinese_and_english(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    path = workdir / "short.csv"
    path.write_text("通行證號,身分證號,姓名\nKHPS113-000043,QQ12345673,檢訊測試三\n", "utf-8")
    code, _, err = run(capsys, "import", str(path))
    assert code == 1
    assert "手機號碼 phone" in err and "公司 company" in err


def test_ids_failing_their_check_digit_are_listed_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "import", str(SAMPLE))
    assert code == 0
    # The guide's test IDs: R123456788 (line 3) fails its check digit.
    assert "ID numbers fail their check digit" in out
    assert "line 3 R12*****88" in out
    assert "R123456788" not in out


def test_a_dry_run_and_a_refused_file_say_would_import(
    capsys: pytest.CaptureFixture[str], workdir: Path
) -> None:
    code, out, _ = run(capsys, "import", "--dry-run", str(SAMPLE))
    assert code == 0
    assert "would import" in out and "21 new" in out
    assert "imported:" not in out

    bad = workdir / "bad.csv"
    rows = sample_rows()
    rows[2][3] = "12345"  # line 3: not a mobile
    bad.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "import", str(bad))
    assert code == 1
    assert "would import" in out and "line 3, phone" in err
    assert "nothing was imported" in err

    code, out, _ = run(capsys, "import", str(SAMPLE))
    assert code == 0
    assert "imported:" in out and "would import" not in out


def test_no_progress_bar_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "import", str(SAMPLE))
    assert code == 0
    assert "\r" not in out + err and "%|" not in err


def test_a_progress_bar_on_a_terminal(workdir: Path) -> None:
    # stderr on a pseudo-terminal, as when an admin runs the command; stdout piped.
    env = {**os.environ, "PORTPASS_DATABASE_URL": f"sqlite:///{workdir / 'tty.db'}"}
    screen = run_on_terminal(
        [sys.executable, "-m", "bot.cli", "import", str(SAMPLE)], stream="stderr", env=env, cwd=ROOT
    )
    assert screen.code == 0
    assert "%|" in screen.terminal  # tqdm's bar
    assert "%|" not in screen.piped and "21 new" in screen.piped
