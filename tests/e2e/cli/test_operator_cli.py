"""``portpass operator`` as an administrator uses it: a code printed by the CLI links in
the server (same key, same hash), list/revoke/code, and one clear line on errors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.bootstrap import services_for
from bot.cli.main import main
from bot.config import load_config
from core.errors import InvalidLinkCode
from core.model import Operator
from storage.registry.importer import DEMO_REGISTRY

SAMPLE = DEMO_REGISTRY
KH = "高雄港測試業者"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("PORTPASS_CONFIG", "PORTPASS_DATABASE_URL", "PORTPASS_SECURITY_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTPASS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("PORTPASS_SECURITY_SECRET_KEY", "cli-secret-key-" + "y" * 32)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def added(out: str) -> tuple[str, str]:
    """The operator id and link code that ``operator add`` printed."""
    operator = re.search(r"^operator ([0-9a-f]{8}) added", out, re.MULTILINE)
    code = re.search(r"^  /link ([A-Z2-9]{10})$", out, re.MULTILINE)
    assert operator and code, out
    return operator.group(1), code.group(1)


def link_in_server(telegram_user_id: str, code: str) -> Operator:
    """``/link CODE`` as the running server handles it: services from the composition
    root (its hasher, its key), not the CLI's."""

    async def go() -> Operator:
        async with services_for(load_config(None)) as services:
            return await services.operator_lifecycle.link(telegram_user_id, code)

    return asyncio.run(go())


def test_add_prints_a_code_that_links_in_the_server(capsys):
    assert run(capsys, "import", str(SAMPLE))[0] == 0
    code, out, err = run(capsys, "operator", "add", "--name", "王小明", "--company", KH)
    assert code == 0 and err == ""
    operator_id, link_code = added(out)
    assert f"operator {operator_id} added: 王小明, {KH}" in out
    assert re.search(rf"link code: {link_code} \(valid until \d{{4}}/\d\d/\d\d \d\d:\d\d", out)
    assert "private chat with the bot" in out
    operator = link_in_server("700000001", link_code)
    assert (operator.id, operator.name, operator.company, operator.is_admin) == (
        operator_id,
        "王小明",
        KH,
        False,
    )
    with pytest.raises(InvalidLinkCode):
        link_in_server("700000002", link_code)  # once only


def test_codes_match_the_server_with_the_key_file_beside_sqlite(capsys, monkeypatch):
    """No configured key: CLI and server both use ``<db>.secret``."""
    monkeypatch.delenv("PORTPASS_SECURITY_SECRET_KEY")
    _, out, _ = run(capsys, "operator", "add", "--name", "甲", "--company", KH)
    operator_id, link_code = added(out)
    assert link_in_server("700000001", link_code).id == operator_id


def test_list_shows_admin_linked_and_revoked(capsys):
    run(capsys, "import", str(SAMPLE))
    _, out, _ = run(capsys, "operator", "add", "--name", "王小明", "--company", KH)
    first, link_code = added(out)
    _, out, _ = run(capsys, "operator", "add", "--name", "管理員", "--company", KH, "--admin")
    assert "(admin: sees every company)" in out
    second, _ = added(out)
    link_in_server("700000001", link_code)

    code, out, _ = run(capsys, "operator", "list")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["ID", "NAME", "COMPANY", "ADMIN", "LINKED", "REVOKED"]
    assert [line.split() for line in lines] == [
        [first, "王小明", KH, "no", "yes", "no"],
        [second, "管理員", KH, "yes", "no", "no"],
    ]

    code, out, _ = run(capsys, "operator", "revoke", first)
    assert code == 0 and f"operator {first} revoked" in out
    _, out, _ = run(capsys, "operator", "list")
    row = next(line.split() for line in out.splitlines() if line.startswith(first))
    assert row[3:5] == ["no", "no"] and re.fullmatch(r"\d{4}/\d\d/\d\d", row[5])
    code, out, _ = run(capsys, "operator", "revoke", first)
    assert code == 0 and "already revoked" in out


def test_list_with_no_operators(capsys):
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "operator", "list")
    assert code == 0 and "no operators yet" in out


def test_code_reissues_and_the_old_code_stops_working(capsys):
    _, out, _ = run(capsys, "operator", "add", "--name", "王小明", "--company", KH)
    operator_id, old = added(out)
    code, out, _ = run(capsys, "operator", "code", operator_id)
    assert code == 0
    new = re.search(r"/link ([A-Z2-9]{10})", out)
    assert new and new.group(1) != old
    with pytest.raises(InvalidLinkCode):
        link_in_server("700000001", old)
    assert link_in_server("700000001", new.group(1)).id == operator_id


def test_a_revoked_operator_gets_no_code_and_cannot_link(capsys):
    _, out, _ = run(capsys, "operator", "add", "--name", "王小明", "--company", KH)
    operator_id, link_code = added(out)
    run(capsys, "operator", "revoke", operator_id)
    code, out, err = run(capsys, "operator", "code", operator_id)
    assert code == 1 and out == ""
    assert err == f"portpass: The operator account {operator_id} has been revoked.\n"
    with pytest.raises(InvalidLinkCode):
        link_in_server("700000001", link_code)


@pytest.mark.parametrize("action", ["revoke", "code"])
def test_an_unknown_id_is_one_line_and_a_non_zero_exit(capsys, action):
    run(capsys, "import", str(SAMPLE))
    code, out, err = run(capsys, "operator", action, "nosuchid")
    assert code == 1 and out == ""
    assert err == "portpass: No operator account nosuchid was found.\n"


def test_a_blank_name_is_refused(capsys):
    run(capsys, "import", str(SAMPLE))
    code, out, err = run(capsys, "operator", "add", "--name", " ", "--company", KH)
    assert code == 1 and out == ""
    assert err == "portpass: An operator needs a name and a company.\n"
    assert "no operators yet" in run(capsys, "operator", "list")[1]


def test_a_company_without_passes_gets_a_warning(capsys):
    run(capsys, "import", str(SAMPLE))
    code, out, err = run(capsys, "operator", "add", "--name", "甲", "--company", "高雄港測試")
    assert code == 0 and added(out)
    assert "warning: no pass in the registry belongs to company '高雄港測試'" in err


def test_postgresql_without_a_secret_key_is_a_configuration_error(capsys, monkeypatch):
    """Codes made under a throw-away key would never link: refuse before connecting."""
    monkeypatch.delenv("PORTPASS_SECURITY_SECRET_KEY")
    monkeypatch.setenv("PORTPASS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, out, err = run(capsys, "operator", "list")
    assert code == 2 and out == ""
    assert err.startswith("portpass: security.secret_key is required")
    assert len(err.splitlines()) == 1
