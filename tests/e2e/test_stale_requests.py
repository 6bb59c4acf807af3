"""A code or link sent before a registry import changed the pass's holder
or phone on file must not verify afterwards. Real HTTP into the app, the demo registry
on SQLite, and a real re-import (``storage.registry.importer.import_registry``) of an edited copy
of the same file between the request and the check."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.model import Status
from core.status import status_of
from core.values import PassNumber
from storage.registry.importer import DEMO_REGISTRY, import_registry
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import HOLDER, Handset, last_code, sms_to
from tests.e2e.web.test_link_page import ZH_PAGE, form_tag, issue_link, open_page

PASS_NO = "KHPS113-000043"
ROW = "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,"
STALE_ZH = "驗證碼送出後，此通行證的持證人或登記的手機號碼已經變更，這個驗證碼已失效。"

#: What the registry says after the re-import, for each way it can change under a code.
CHANGES = {
    # The person's phone on file is now another number.
    "phone": "KHPS113-000043,QQ12345673,檢訊測試三,0933123456,",
    # The pass now belongs to another person, who has the same phone on file.
    "holder": "KHPS113-000043,QQ12345674,簡訊測試四,0960123411,",
}


async def reimport(client: AppClient, tmp_path: Path, new_row: str) -> None:
    text = DEMO_REGISTRY.read_text(encoding="utf-8")
    assert text.count(ROW) == 1
    edited = tmp_path / "registry-edited.csv"
    edited.write_text(text.replace(ROW, new_row), encoding="utf-8")
    report = await import_registry(services_of(client).engine, edited)
    assert report.committed, report.errors


async def status(client: AppClient) -> Status:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(PASS_NO))
    assert record is not None
    return status_of(record)


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_code_sent_before_a_reimport_changed_the_registry_does_not_verify(
    client: AppClient, tmp_path: Path, change: str
) -> None:
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, "QQ12345673", "1")
    code = await last_code(client)

    await reimport(client, tmp_path, CHANGES[change])
    told = await phone.say(code)

    assert told.startswith(STALE_ZH)
    assert "請以目前的資料重新取得驗證碼" in told
    assert await status(client) is Status.UNVERIFIED
    assert "已失效" in await phone.say(code)  # closed for good


async def test_after_a_stale_code_the_holder_gets_a_new_one_with_the_new_data(
    client: AppClient, tmp_path: Path
) -> None:
    await Handset(client).say("驗證", PASS_NO, "QQ12345673", "1")
    old = await last_code(client)
    await reimport(client, tmp_path, CHANGES["phone"])
    new_phone = Handset(client, "+886933123456")

    await new_phone.say("驗證", PASS_NO, "QQ12345673")
    assert await new_phone.say("1") == (
        "驗證碼已經成功送出。請輸入簡訊中的6位數字驗證碼，"
        "或點簡訊中的連結完成驗證（24小時內有效）。"
    )
    assert "已失效" in await Handset(client).say(old)
    assert "手機驗證完成" in await new_phone.say(await last_code(client, "+886933123456"))
    assert await status(client) is Status.VERIFIED
    assert len(await sms_to(client, HOLDER)) == 1


async def test_a_stale_code_is_answered_in_english_too(client: AppClient, tmp_path: Path) -> None:
    phone = Handset(client)
    await phone.say("EN", "VERIFY", PASS_NO, "QQ12345673", "1")
    code = await last_code(client)
    await reimport(client, tmp_path, CHANGES["phone"])

    told = await phone.say(code)

    assert told.startswith("The pass's holder or the phone on file changed after this code")
    assert "ask for a new code" in told


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_link_sent_before_a_reimport_changed_the_registry_does_not_verify(
    client: AppClient, tmp_path: Path, change: str
) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))

    await reimport(client, tmp_path, CHANGES[change])
    shown = await client.get(path, headers=ZH_PAGE)
    posted = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
    again = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)

    for response in (shown, posted, again):
        assert response.status == 410
        page = await response.text()
        assert STALE_ZH in page
        assert "<button" not in page  # nothing to confirm
    assert await status(client) is Status.UNVERIFIED


async def test_a_reimport_that_changes_nothing_for_the_pass_leaves_its_code_working(
    client: AppClient, tmp_path: Path
) -> None:
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, "QQ12345673", "1")
    code = await last_code(client)

    await reimport(client, tmp_path, ROW)  # the same file again

    assert "手機驗證完成" in await phone.say(code)
    assert await status(client) is Status.VERIFIED
