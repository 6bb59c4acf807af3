"""``portpass notices`` as an administrator uses it: import gate events from a CSV file
(once per event, all or nothing), list notices for Excel, make an API token."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.registry.importer import DEMO_REGISTRY

HEADER = "event_id,pass_no,kind,occurred_at,detail\n"
EVENTS = (
    HEADER
    + "gate-1,KHPS113-000047,suspended_inactive,2026/11/26,\n"
    + 'gate-2,KHPS113-000043,abnormal_record,2026-11-26T08:30:00+08:00,"=HYPERLINK(""http://x"")"\n'
    + "gate-3,TCPS113-000101,reinstated,115/11/26,gate 3\n"
)


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


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(workdir: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(workdir / "cli.db") as db:
        return db.execute(query).fetchall()


@pytest.fixture
def registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "import", str(DEMO_REGISTRY))[0] == 0


def test_import_texts_the_verified_pass_and_is_idempotent(capsys, registry, workdir: Path) -> None:
    events = write(workdir / "events.csv", EVENTS)
    code, out, _ = run(capsys, "notices", "import", str(events))
    assert code == 0
    assert out == (
        "notices: 3 new (1 texted, 2 unreachable: unverified 2; 0 Telegram messages), "
        "0 already stored\n"
    )
    assert rows(workdir, "SELECT to_phone, kind FROM outbox") == [("+886960123411", "notice")]
    # The same file again (a retry, or imported twice by mistake): nothing new.
    code, out, _ = run(capsys, "notices", "import", str(events))
    assert (code, out) == (
        0,
        "notices: 0 new (0 texted, 0 unreachable; 0 Telegram messages), 3 already stored\n",
    )
    assert rows(workdir, "SELECT count(*) FROM notices") == [(3,)]
    assert rows(workdir, "SELECT count(*) FROM outbox") == [(1,)]
    assert rows(workdir, "SELECT count(*) FROM audit_log WHERE action = 'notice'") == [(3,)]


def test_an_invalid_row_stores_nothing_and_every_problem_is_named_by_line(
    capsys, registry, workdir: Path
) -> None:
    events = write(
        workdir / "events.csv",
        HEADER
        + "gate-1,KHPS113-000047,suspended_inactive,2026/11/26,\n"
        + "gate-2,KHPS113-999999,suspended_inactive,2026/11/26,\n"
        + "gate-3,KHPS113-000043,stolen,2026/11/31,\n"
        + "gate-4,KHPS113-000043\n",
    )
    code, out, err = run(capsys, "notices", "import", str(events))
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert (
        lines[0] == f"{events}: line 3: pass_no: 查無通行證 KHPS113-999999。 / "
        "There is no pass KHPS113-999999 in the registry."
    )
    assert lines[1].startswith(f"{events}: line 4: kind: kind 必須是以下之一")
    assert lines[2].startswith(f"{events}: line 4: occurred_at: occurred_at 必須是日期時間")
    assert (
        lines[3] == f"{events}: line 5: 這一列有 2 欄，標題列有 5 欄。 / "
        "This row has 2 cells; the header has 5."
    )
    assert (
        lines[4] == "nothing was stored: 3 events are invalid, so nothing was stored. "
        "Please fix them and send again."
    )
    assert rows(workdir, "SELECT count(*) FROM notices") == [(0,)]
    assert rows(workdir, "SELECT count(*) FROM outbox") == [(0,)]


def test_a_file_without_the_columns_is_refused_on_line_one(capsys, registry, workdir) -> None:
    events = write(workdir / "events.csv", "pass,kind,date\nKHPS113-000047,x,2026/11/26\n")
    code, _, err = run(capsys, "notices", "import", str(events))
    assert code == 1
    assert err.startswith(f"{events}: line 1: pass: 不認得的欄位 pass")


def test_dry_run_reports_and_stores_nothing(capsys, registry, workdir: Path) -> None:
    events = write(workdir / "events.csv", EVENTS)
    code, out, _ = run(capsys, "notices", "import", "--dry-run", str(events))
    assert code == 0
    assert out.endswith("dry run: nothing was stored\n")
    assert rows(workdir, "SELECT count(*) FROM notices") == [(0,)]


def test_list_as_csv_is_safe_to_open_in_excel(capsys, registry, workdir: Path) -> None:
    run(capsys, "notices", "import", str(write(workdir / "events.csv", EVENTS)))
    code = main(["notices", "list", "--format", "csv"])
    raw = capsys.readouterr().out
    assert code == 0
    assert raw.startswith("\ufeff")  # the byte-order mark Excel needs for UTF-8
    assert "\r\n" in raw
    table = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
    assert table[0] == [
        "接收時間",
        "發生日期",
        "通行證號",
        "公司",
        "通知種類",
        "通知狀態",
        "無法通知原因",
        "Telegram 對話數",
        "事件編號",
        "說明",
    ]
    by_event = {row[8]: row for row in table[1:]}
    assert by_event["gate-2"][9] == '\'=HYPERLINK("http://x")'  # a formula stays text
    assert by_event["gate-2"][5:7] == ["無法通知：手機未驗證", "unverified"]
    assert by_event["gate-1"][5] == "簡訊待發送"
    assert by_event["gate-3"][1] == "2026/11/26"  # the ROC date 115/11/26


def test_list_filters_by_company_and_unreachable(capsys, registry, workdir: Path) -> None:
    run(capsys, "notices", "import", str(write(workdir / "events.csv", EVENTS)))
    code, out, _ = run(
        capsys,
        "notices",
        "list",
        "--unreachable",
        "--company",
        "高雄港測試業者",
        "--format",
        "json",
    )
    assert code == 0
    [only] = json.loads(out)
    assert {k: only[k] for k in ("event_id", "pass_no", "reach", "reason", "sms_state")} == {
        "event_id": "gate-2",
        "pass_no": "KHPS113-000043",
        "reach": "unreachable",
        "reason": "unverified",
        "sms_state": None,
    }
    code, out, _ = run(capsys, "notices", "list")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "接收時間",
        "發生日期",
        "通行證號",
        "公司",
        "通知種類",
        "通知狀態",
        "Telegram",
        "對話數",
        "事件編號",
    ]
    assert out.endswith("\n3 notices\n")


def test_token_prints_a_token_once_and_the_digest_for_config(capsys) -> None:
    code, out, _ = run(capsys, "notices", "token")
    assert code == 0
    token = re.search(r"^token:  (\S+)$", out, re.M)
    digest = re.search(r"^sha256: ([0-9a-f]{64})$", out, re.M)
    assert token and digest
    assert len(token.group(1)) >= 40
    assert hashlib.sha256(token.group(1).encode()).hexdigest() == digest.group(1)
    assert f'api_token_sha256 = ["{digest.group(1)}"]' in out
    again = run(capsys, "notices", "token")[1]
    assert token.group(1) not in again
