"""A pass whose validity a registry import ended after its code was sent must not verify:
the code typed back (SMS here, Telegram in tests/e2e/telegram/test_telegram_pass_validity.py)
and the link page are refused with the out-of-validity message. Real HTTP into the app,
the demo registry on SQLite, and a real re-import of an edited copy of it in between."""

from __future__ import annotations

from pathlib import Path

from core.model import Status
from core.status import status_of
from core.values import PassNumber
from storage.registry.importer import DEMO_REGISTRY, import_registry
from tests.e2e.conftest import AppClient, services_of
from tests.e2e.sms.test_sms_inbound import Handset, last_code
from tests.e2e.web.test_link_page import ZH_PAGE, form_tag, issue_link, open_page

PASS_NO = "KHPS113-000043"
VALID = "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,2026/01/05,2027/01/04,"
ENDED = "KHPS113-000043,QQ12345673,檢訊測試三,0960123411,2026/01/05,2026/11/20,"
#: The clock says 2026/11/27; the import moved the pass's last day a week into the past.
NOT_VALID_ZH = (
    "此通行證不在有效期間內（2026/01/05 至 2026/11/20），無法驗證手機。"
    "請洽業者申請人（貴公司辦理通行證的人員）確認效期。"
)


async def end_validity(client: AppClient, tmp_path: Path, row: str = ENDED) -> None:
    """Re-import the demo registry with the pass's ``valid_to`` moved into the past."""
    text = DEMO_REGISTRY.read_text(encoding="utf-8")
    assert text.count(VALID) == 1
    edited = tmp_path / "registry-validity.csv"
    edited.write_text(text.replace(VALID, row), encoding="utf-8")
    report = await import_registry(services_of(client).engine, edited)
    assert report.committed, report.errors


async def status(client: AppClient) -> Status:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(PASS_NO))
    assert record is not None
    return status_of(record)


async def test_a_code_for_a_pass_whose_validity_ended_since_does_not_verify_by_sms(
    client: AppClient, tmp_path: Path
) -> None:
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, "QQ12345673", "1")
    code = await last_code(client)

    await end_validity(client, tmp_path)
    told = await phone.say(code)

    assert told == NOT_VALID_ZH
    assert await status(client) is Status.UNVERIFIED


async def test_a_link_for_a_pass_whose_validity_ended_since_does_not_verify(
    client: AppClient, tmp_path: Path
) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))

    await end_validity(client, tmp_path)
    shown = await client.get(path, headers=ZH_PAGE)
    posted = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)

    for response in (shown, posted):
        assert response.status == 403
        page = await response.text()
        assert NOT_VALID_ZH in page
        assert "<button" not in page  # nothing to confirm
    assert await status(client) is Status.UNVERIFIED


async def test_a_code_works_again_when_an_import_restores_the_validity(
    client: AppClient, tmp_path: Path
) -> None:
    phone = Handset(client)
    await phone.say("驗證", PASS_NO, "QQ12345673", "1")
    code = await last_code(client)
    await end_validity(client, tmp_path)
    assert await phone.say(code) == NOT_VALID_ZH

    await end_validity(client, tmp_path, row=VALID)  # refused, not closed: the data decides

    assert "手機驗證完成" in await phone.say(code)
