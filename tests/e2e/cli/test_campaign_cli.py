"""``portpass campaign`` as an administrator uses it: the plan, a dry run that stores
nothing, the life of a campaign, its report (Excel-safe CSV, JSON), ``watch``, and one
clear message in both languages for every bad option."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.bootstrap import close_services, open_services
from bot.cli.main import main
from bot.config import load_config
from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from storage.db import create_engine
from storage.registry.importer import DEMO_REGISTRY
from storage.tables import audit_log, campaign_targets, campaigns, outbox, passes
from tests.e2e.cli.terminal import run_on_terminal

EVIL = "=cmd|' /C calc'!A0"  # a company name that a spreadsheet would run


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_DATABASE_URL", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PORTPASS_SMS_PRICE_PER_SEGMENT", "0.0823")
    monkeypatch.setenv("PORTPASS_SMS_CURRENCY", "USD")
    monkeypatch.setenv("PORTPASS_SERVER_PUBLIC_BASE_URL", "https://pp.example.tw")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def count(workdir: Path, table: object) -> int:
    async def go() -> int:
        engine = create_engine(f"sqlite:///{workdir / 'cli.db'}")
        try:
            async with engine.connect() as conn:
                query = select(func.count()).select_from(table)  # type: ignore[arg-type]
                return int((await conn.execute(query)).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def registry(workdir: Path) -> None:
    """The demo registry (11 recipients, one pass without a phone) and a company whose
    name is a formula."""
    extra = workdir / "extra.csv"
    extra.write_text(
        "pass_no,id_no,name,phone,valid_from,valid_to,company\n"
        f'EVPS113-000001,E123456786,惡意公司甲,0911000001,2026/01/01,2099/12/31,"{EVIL}"\n',
        encoding="utf-8",
    )
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    assert main(["import", str(extra)]) == 0


@pytest.mark.usefixtures("registry")
def test_dry_run_prints_the_plan_and_stores_nothing(capsys, workdir: Path) -> None:
    audit_before = count(workdir, audit_log)
    code, out, err = run(capsys, "campaign", "create", "--name", "秋季", "--dry-run")
    assert code == 0, err
    assert "dry run: nothing is stored" in out
    assert "recipients: 12 of 13 selected passes" in out
    assert "no phone on file (R6) 1" in out
    assert "SMS: 2 segments each (UCS-2), 24 segments" in out
    assert "estimated cost: 1.98 USD at 0.0823 USD per segment" in out
    assert count(workdir, campaigns) == count(workdir, campaign_targets) == 0
    assert count(workdir, audit_log) == audit_before


@pytest.mark.usefixtures("registry")
def test_a_campaign_from_plan_to_cancel(capsys, workdir: Path) -> None:
    code, out, _ = run(
        capsys,
        "campaign", "create", "--name", "高雄港", "--company", "高雄港測試業者",
        "--window", "08:00-20:00", "--rate", "5", "--remind-after", "3d",
    )  # fmt: skip
    assert code == 0
    assert "stored as campaign 1 (planned)" in out
    assert "reminders: 1, 3d after the last SMS" in out
    assert count(workdir, campaign_targets) == 11  # 10 recipients and the one without a phone

    _, out, _ = run(capsys, "campaign", "list")
    assert "1   高雄港  planned  10" in out
    assert run(capsys, "campaign", "start", "1")[1].startswith("campaign 1: running")
    code, out, _ = run(capsys, "campaign", "show", "1")
    assert code == 0
    assert "campaign 1: 高雄港 — running" in out
    assert "queued" in out and "10" in out
    assert run(capsys, "campaign", "pause", "1")[1].startswith("campaign 1: paused")
    code, _, err = run(capsys, "campaign", "pause", "1")
    assert code == 2
    assert err.splitlines() == [
        "portpass: 活動 1 目前為 paused，無法 pause。",
        "portpass: Campaign 1 is paused: it cannot pause.",
    ]
    assert run(capsys, "campaign", "resume", "1")[0] == 0
    assert run(capsys, "campaign", "cancel", "1")[0] == 0
    code, out, _ = run(capsys, "campaign", "watch", "1")  # nothing left to watch
    assert code == 0 and "campaign 1 is cancelled" in out
    # Piped (not a terminal): one plain progress line, no bar drawn with carriage returns.
    assert re.search(r"^campaign 1 \(.*\): \d+/10 · sent \d+", out, re.M), out
    assert "\r" not in out


@pytest.mark.parametrize(
    ("argv", "english"),
    [
        (("--window", "9-21"), "--window must be a time range in Taipei time"),
        (("--rate", "fast"), "--rate must be SMS per second"),
        (("--state", "verified"), "--state must be unverified, pending, or both"),
        (("--pass-prefix", "%"), "--pass-prefix must be the start of a pass number"),
        (("--remind-after", "3 days"), "--remind-after must be a duration"),
        (("--reminders", "2"), "Reminders need a delay: add --remind-after"),
        (("--remind-after", "3d", "--reminders", "many"), "--reminders must be a whole number"),
        (("--name", " "), "--name must be a name of 1 to 100 characters"),
    ],
)
@pytest.mark.usefixtures("registry")
def test_bad_options_say_what_is_expected_and_store_nothing(
    capsys, workdir: Path, argv: tuple[str, ...], english: str
) -> None:
    args = ["campaign", "create", "--name", "x", *argv]
    code, _, err = run(capsys, *args)
    assert code == 2
    zh, en = err.splitlines()
    assert zh.startswith("portpass: ") and not zh.isascii()  # Traditional Chinese first
    assert en.startswith(f"portpass: {english}")
    assert count(workdir, campaigns) == 0


def test_unknown_campaign_ids(capsys) -> None:
    code, _, err = run(capsys, "campaign", "show", "abc")
    assert code == 2 and "A campaign id is a whole number such as 3; got 'abc'" in err
    assert run(capsys, "import", str(DEMO_REGISTRY))[0] == 0
    code, _, err = run(capsys, "campaign", "start", "7")
    assert code == 2 and "There is no campaign 7" in err


async def send_and_settle(workdir: Path) -> None:
    """What serve and Twilio would have done: every SMS sent, some delivered, some
    failed, one holder verified and one opted out since."""
    config = load_config(None, os.environ, cwd=workdir)
    services = await open_services(config)
    try:
        for _ in range(50):
            if (await services.campaigns.dispatch(1)).why == "done":
                break
            await asyncio.sleep(0.05)
        async with services.engine.begin() as conn:
            ids = list((await conn.execute(select(outbox.c.id).order_by(outbox.c.id))).scalars())
            await conn.execute(update(outbox).values(state="sent", provider_status="queued"))
            await conn.execute(
                update(outbox).where(outbox.c.id.in_(ids[:6])).values(state="delivered")
            )
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids[6:8]))
                .values(state="undelivered", error_code="30005")
            )
            await conn.execute(
                update(outbox)
                .where(outbox.c.id == ids[8])
                .values(state="failed", error_code="21614")
            )
            later = datetime.now(UTC) + timedelta(minutes=1)
            await conn.execute(
                update(passes)
                .where(passes.c.pass_no == "KHPS113-000016")
                .values(verified_phone="+886912345608", verified_at=later)
            )
        async with services.uow() as uow:
            opt_out = OptOut(
                Phone("+886911000001"), datetime.now(UTC), OptOutSource.KEYWORD, "STOP"
            )
            await uow.opt_outs.add(opt_out)
            await uow.commit()
    finally:
        await close_services(services)


@pytest.mark.usefixtures("registry")
def test_report_per_company_as_table_json_and_excel_safe_csv(capsysbinary, workdir: Path) -> None:
    def cli(*argv: str) -> bytes:
        assert main(list(argv)) == 0
        return capsysbinary.readouterr().out

    cli("campaign", "create", "--name", "全部", "--window", "00:00-24:00", "--rate", "100")
    cli("campaign", "start", "1")
    asyncio.run(send_and_settle(workdir))

    report = json.loads(cli("campaign", "report", "1", "--format", "json"))
    by_company = {row["company"]: row for row in report["companies"]}
    assert set(by_company) == {"高雄港測試業者", "臺中港測試公司", EVIL}
    total = report["total"]
    assert (total["targeted"], total["sent"]) == (12, 12)
    assert (total["delivered"], total["failed"]) == (6, 3)
    assert total["failed_by_error"] == {"21614": 1, "30005": 2}
    assert total["verified_since_start"] == 1
    assert total["opted_out"] == 1 and by_company[EVIL]["opted_out"] == 1
    assert by_company["高雄港測試業者"]["verified_rate"] == round(1 / 10, 4)

    table = cli("campaign", "report", "1").decode()
    assert "高雄港測試業者" in table and "10.0%" in table

    data = cli("campaign", "report", "1", "--format", "csv")
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel on zh-TW reads UTF-8
    lines = data.decode("utf-8-sig").split("\r\n")  # CRLF
    assert lines[0].startswith("company,targeted,sent,delivered,failed,failed_by_error")
    evil = [line for line in lines if "cmd|" in line]
    assert len(evil) == 1 and evil[0].startswith("'=cmd|")  # kept as text
    assert lines[-2].startswith("total,12,12,6,3,")


def test_watch_stops_on_ctrl_c_and_the_campaign_goes_on(workdir: Path) -> None:
    """A real process: Ctrl-C is SIGINT. No serve runs, so it would watch for ever."""
    portpass = [sys.executable, "-m", "bot.cli"]
    for argv in (
        ["import", str(DEMO_REGISTRY)],
        ["campaign", "create", "--name", "w", "--window", "00:00-24:00"],
        ["campaign", "start", "1"],
    ):
        subprocess.run([*portpass, *argv], check=True, capture_output=True)  # noqa: S603
    watcher = subprocess.Popen(  # noqa: S603
        [*portpass, "campaign", "watch", "1", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()  # printed once it watches
        assert b"watching campaign 1" in first
        watcher.send_signal(signal.SIGINT)
        rest, err = watcher.communicate(timeout=10)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err.decode()
    assert "stopped watching; campaign 1 goes on" in rest.decode()
    show = [*portpass, "campaign", "show", "1"]
    shown = subprocess.run(show, check=True, capture_output=True)  # noqa: S603
    assert "running" in shown.stdout.decode()


def test_watch_on_a_terminal_draws_a_bar(workdir: Path) -> None:
    """stdout on a pseudo-terminal, as when an administrator watches by hand."""
    portpass = [sys.executable, "-m", "bot.cli"]
    for argv in (
        ["import", str(DEMO_REGISTRY)],
        ["campaign", "create", "--name", "t", "--window", "00:00-24:00"],
        ["campaign", "start", "1"],
        ["campaign", "cancel", "1"],
    ):
        subprocess.run([*portpass, *argv], check=True, capture_output=True)  # noqa: S603
    screen = run_on_terminal([*portpass, "campaign", "watch", "1"])
    assert screen.code == 0
    assert "%|" in screen.terminal  # tqdm's bar, as portpass import draws
    assert "campaign 1 is cancelled" in screen.terminal
