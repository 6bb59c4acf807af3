"""An admin imports the registry into the SQLite file the server is running on, and
holders' SMS are answered all the while.

The import's progress hook runs after each batch it commits; there the test texts the
running app over HTTP, as Twilio would. Before the fix, the import held SQLite's write
lock from its first row to its last, and these webhooks waited and failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import database_for
from bot.config import Config
from storage.registry import importer
from storage.registry.importer import ImportProgress, import_registry
from tests.e2e.conftest import AppClient
from tests.e2e.sms.test_sms_inbound import Handset


def write_registry(path: Path, rows: int) -> Path:
    lines = ["pass_no,id_no,name,phone,valid_from,valid_to,company"]
    lines += [
        f"KHPS114-{n:06d},TEST{n:05d},人{n},09{n:08d},2026/01/05,2027/01/04,高雄港測試業者"
        for n in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_sms_are_answered_while_the_registry_is_imported(
    client: AppClient, config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH_ROWS", 25)
    phone = Handset(client)
    answers: list[str] = []

    async def during(progress: ImportProgress) -> None:
        if progress.stage == "merge":
            answers.append("\n".join(await phone.send("說明")))  # asserts HTTP 200

    path = write_registry(tmp_path / "registry.csv", 200)
    # As `portpass import` does, in its own process: the database opened for the command.
    async with database_for(config) as database:
        report = await import_registry(database.engine, path, progress=during)

    assert report.committed and report.passes.new == 200
    assert len(answers) >= 200 // 25
    assert all(answers) and len(set(answers)) == 1  # the same help text every time
