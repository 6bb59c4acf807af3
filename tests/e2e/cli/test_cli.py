"""``portpass`` as an administrator uses it: import the registry, read the status table,
and get one clear line (never a traceback) when something is wrong."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.main import main
from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from storage.db import create_engine
from storage.registry.importer import DEMO_REGISTRY
from storage.uow import SqlUnitOfWorkFactory

SAMPLE = DEMO_REGISTRY


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_DATABASE_URL", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_status_json_gives_each_pass_its_r7_status(capsys):
    code, out, _ = run(capsys, "import", str(SAMPLE))
    assert code == 0
    assert "passes: 21 new, 0 updated, 0 unchanged, 0 invalid" in out
    code, out, _ = run(capsys, "status", "--format", "json")
    assert code == 0
    rows = {row["pass_no"]: row for row in json.loads(out)}
    assert len(rows) == 21
    assert set(rows["KHPS113-000040"]) == {
        "pass_no",
        "id_no",
        "name",
        "phone",
        "verified_phone",
        "status",
        "opted_out",
        "company",
        "last_sms",  # the problem with the pass's last verification SMS, if any
    }
    assert rows["KHPS113-000040"]["last_sms"] is None  # no SMS sent yet
    # The guide's second table: 已驗證, 未驗證, 待驗證.
    assert rows["KHPS113-000045"]["status"] == "verified"
    assert rows["KHPS113-000016"]["status"] == "unverified"
    assert rows["KHPS111-000014"]["status"] == "pending"
    assert rows["KHPS113-000034"]["phone"] == ""  # no person phone: R6
    assert rows["TCPS113-000101"]["company"] == "臺中港測試公司"


def test_reimport_is_unchanged_and_filters_work(capsys):
    run(capsys, "import", str(SAMPLE))
    code, out, _ = run(capsys, "import", str(SAMPLE))
    assert code == 0
    assert "passes: 0 new, 0 updated, 21 unchanged, 0 invalid" in out
    code, out, _ = run(capsys, "status", "--state", "pending", "--format", "csv")
    assert code == 0
    lines = out.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("通行證號,身分證號,姓名,手機號碼,已驗證手機號碼,是否驗證")
    assert len(lines) == 2 and lines[1].startswith("KHPS111-000014,")
    _, out, _ = run(capsys, "status", "--company", "臺中港測試公司", "--format", "json")
    assert {r["pass_no"] for r in json.loads(out)} == {"TCPS113-000101", "TCPS113-000102"}
    _, out, _ = run(capsys, "status", "khps113000043")
    assert "KHPS113-000043" in out and "未驗證" in out
    assert "未驗證 1" in out


def test_invalid_rows_are_reported_with_line_numbers_and_nothing_is_imported(capsys, workdir: Path):
    bad = workdir / "bad.csv"
    bad.write_text(
        "pass_no,id_no,name,phone,valid_from,valid_to,company\n"
        "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,2026/01/05,2027/01/04,甲\n"
        "NOT-A-PASS,QQ12345673,檢訊測試三,0960123411,2026/01/05,2027/01/04,甲\n"
        "KHPS113-000044,QQ12345674,簡訊測試四,12345,2026/01/05,2027/01/04,甲\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "import", str(bad))
    assert code == 1
    assert "line 3" in err and "line 4" in err
    assert "nothing was imported" in err
    code, out, _ = run(capsys, "status", "--format", "json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, "import", "--skip-invalid", str(bad))
    assert code == 0
    assert "1 new" in out


def test_dry_run_writes_nothing(capsys, workdir: Path):
    code, out, _ = run(capsys, "import", "--dry-run", str(SAMPLE))
    assert code == 0 and "dry run" in out and "21 new" in out
    assert list(workdir.glob("*.db")) == []  # not even an empty database
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "import", "--dry-run", str(SAMPLE))
    assert code == 0 and "21 new" in out
    _, out, _ = run(capsys, "status", "--format", "json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("import", "missing.csv"), "no such file: missing.csv"),
        (("status", "hello"), "not a pass number: 'hello'"),
    ],
)
def test_errors_are_one_line_and_non_zero(capsys, argv, expected):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.strip() == f"portpass: {expected} (e.g. KHPS113-000043)" or err.strip() == (
        f"portpass: {expected}"
    )
    assert "Traceback" not in err


def test_bad_config_names_the_key(capsys, monkeypatch):
    monkeypatch.setenv("PORTPASS_SMS_SENDER", "pigeon")
    code, _, err = run(capsys, "status")
    assert code == 2
    assert err.startswith("portpass: configuration: sms.sender must be one of: console, twilio")
    assert len(err.strip().splitlines()) == 1


def test_db_upgrade(capsys):
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "newest schema" in out


def test_status_csv_opens_in_excel_as_text_never_as_formulas(capsysbinary, workdir: Path):
    """The CSV an admin opens in Excel on a zh-TW system: UTF-8 with a BOM (or Excel
    reads Big5 mojibake), CRLF, Chinese headers, and names that look like formulas
    kept as text (CSV injection: ``=HYPERLINK(...)``, ``=cmd|calc!A1``)."""
    registry = workdir / "evil.csv"
    registry.write_text(
        "pass_no,id_no,name,phone,valid_from,valid_to,company\n"
        'KHPS113-000901,A123456789,"=HYPERLINK(""http://x"",""y"")",0912345678,'
        "2026/01/01,2030/12/31,港務測試\n"
        "KHPS113-000902,B123456780,=cmd|calc!A1,0912345679,2026/01/01,2030/12/31,+SUM(1)\n",
        encoding="utf-8",
    )
    assert main(["import", str(registry)]) == 0
    capsysbinary.readouterr()
    assert main(["status", "--format", "csv"]) == 0
    raw = capsysbinary.readouterr().out
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0][:6] == ["通行證號", "身分證號", "姓名", "手機號碼", "已驗證手機號碼", "是否驗證"]
    names = {row[0]: row[2] for row in rows[1:]}
    assert names["KHPS113-000901"] == '\'=HYPERLINK("http://x","y")'
    assert names["KHPS113-000902"] == "'=cmd|calc!A1"
    companies = {row[0]: row[-1] for row in rows[1:]}
    assert companies["KHPS113-000902"] == "'+SUM(1)"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_status_csv_headers_in_english_on_request(capsysbinary):
    assert main(["import", str(SAMPLE)]) == 0
    capsysbinary.readouterr()
    assert main(["status", "--format", "csv", "--headers", "en"]) == 0
    text = capsysbinary.readouterr().out.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.startswith("Pass number,ID number,Name,Phone,Verified phone,Status")
    assert "Unverified" in text or "unverified" in text


async def _opt_out(database: Path, phone: str) -> None:
    """What a STOP to the running server leaves in the database."""
    engine = create_engine(f"sqlite:///{database}")
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            at = datetime(2026, 3, 1, tzinfo=UTC)
            await uow.opt_outs.add(OptOut(Phone.parse(phone), at, OptOutSource.KEYWORD, "STOP"))
            await uow.commit()
    finally:
        await engine.dispose()


def test_status_marks_passes_whose_phone_opted_out(capsys, workdir: Path):
    run(capsys, "import", str(SAMPLE))
    asyncio.run(_opt_out(workdir / "cli.db", "0912345618"))  # KHPS113-000030's phone

    _, table, _ = run(capsys, "status", "KHPS113-000030", "KHPS113-000043")
    _, out, _ = run(capsys, "status", "--format", "json")

    [opted_out] = [line for line in table.splitlines() if "KHPS113-000030" in line]
    assert opted_out.endswith("未驗證（已退訂）")
    [other] = [line for line in table.splitlines() if "KHPS113-000043" in line]
    assert other.endswith("未驗證")
    rows = {row["pass_no"]: row for row in json.loads(out)}
    assert rows["KHPS113-000030"]["opted_out"] == "yes"
    assert {row["opted_out"] for no, row in rows.items() if no != "KHPS113-000030"} == {"no"}


def test_status_csv_marks_passes_whose_phone_opted_out(capsysbinary, workdir: Path):
    assert main(["import", str(SAMPLE)]) == 0
    asyncio.run(_opt_out(workdir / "cli.db", "0912345618"))  # KHPS113-000030's phone
    capsysbinary.readouterr()

    assert main(["status", "--format", "csv"]) == 0

    text = capsysbinary.readouterr().out.decode("utf-8-sig")
    statuses = {row[0]: row[5] for row in csv.reader(io.StringIO(text, newline=""))}
    assert statuses["KHPS113-000030"] == "未驗證（已退訂）"
    assert statuses["KHPS113-000043"] == "未驗證"
