"""What an admin meets first with the CLI: ``--version``, help on every option, the
status words they see elsewhere, one clear line for a typo, and no noise when a pipe
closes early."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.bootstrap import close_services, open_services
from bot.cli.main import build_parser, main
from bot.config import load_config
from core.opt_outs.model import OptOut, OptOutSource
from core.values import Phone
from storage.registry.importer import DEMO_REGISTRY

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_SECURITY_SECRET_KEY", "PORTPASS_LOGGING_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_version_names_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("portpass ") and out.split()[1][0].isdigit()


def all_parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += all_parsers(child)
    return found


def test_every_option_and_argument_has_help():
    missing = [
        f"{prog}: {'/'.join(action.option_strings) or action.dest}"
        for prog, parser in all_parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


@pytest.mark.parametrize("word", ["已驗證", "verified", "Verified", "ＶＥＲＩＦＩＥＤ"])
def test_state_takes_the_words_operators_see(capsys, word):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    capsys.readouterr()
    assert main(["status", "--state", word]) == 0
    out = capsys.readouterr().out
    assert "已驗證" in out and "未驗證  " not in out.splitlines()[1]


def test_an_unknown_state_lists_the_states(capsys):
    with pytest.raises(SystemExit):
        main(["status", "--state", "done"])
    err = capsys.readouterr().err
    assert "'done' is not a state" in err and "已驗證" in err and "pending" in err


def test_an_unknown_company_says_so(capsys):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    capsys.readouterr()
    assert main(["status", "--company", "高雄港測試業"]) == 1  # one character short
    err = capsys.readouterr().err
    assert "no company '高雄港測試業' in the registry" in err
    assert main(["status", "--company", "高雄港測試業者", "--state", "pending"]) == 0


def test_the_status_summary_is_in_one_language(capsys):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "合計 21" in summary and "total" not in summary
    assert "已退訂" not in summary  # said only when a phone opted out


async def opt_out(workdir: Path, phone: str) -> None:
    """What an SMS of STOP from ``phone`` records."""
    services = await open_services(load_config(None, os.environ, cwd=workdir))
    try:
        async with services.uow() as uow:
            await uow.opt_outs.add(
                OptOut(Phone(phone), datetime.now(UTC), OptOutSource.KEYWORD, "STOP")
            )
            await uow.commit()
    finally:
        await close_services(services)


def test_the_status_summary_counts_phones_that_opted_out(capsys, workdir):
    assert main(["import", str(DEMO_REGISTRY)]) == 0
    asyncio.run(opt_out(workdir, "+886911222333"))
    capsys.readouterr()
    assert main(["status"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.endswith("合計 21  已退訂 1")


def test_check_config_refuses_postgresql_without_a_secret_key(capsys, monkeypatch):
    monkeypatch.setenv("PORTPASS_DATABASE_URL", "postgresql://portpass@db.internal/portpass")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "security.secret_key" in err and "is required" in err


def test_a_closed_pipe_is_not_an_error(workdir: Path):
    """``portpass status | head -1`` on a registry long enough to fill the pipe."""
    registry = workdir / "big.csv"
    rows = [
        f"KHPS113-{i:06d},A{100000000 + i},測試{i},09{i:08d},2026/01/01,2030/12/31,港務"
        for i in range(1, 4001)
    ]
    registry.write_text(
        "pass_no,id_no,name,phone,valid_from,valid_to,company\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(  # noqa: S603 - our own CLI, our own arguments
        [sys.executable, "-m", "bot.cli", "import", str(registry)],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "status"],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        assert reader.stdout.readline()  # the header, then the reader goes away
        reader.stdout.close()
        assert reader.wait(timeout=60) == 0
        assert reader.stderr.read() == b""
