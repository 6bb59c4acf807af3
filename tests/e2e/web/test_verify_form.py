"""The web form over real HTTP on the demo registry: a holder with nothing but pass
number, ID number and phone gets a code at the phone on file and verifies, and every
way it can go wrong says what happened and what to do, without a second SMS."""

from __future__ import annotations

from core.model import Status
from tests.e2e.conftest import AppClient, sent_sms, services_of
from tests.e2e.web.form_steps import (
    HOLDER_E164,
    code_from_sms,
    open_form,
    post,
)
from tests.e2e.web.test_link_page import status


async def test_a_holder_verifies_with_the_code_from_the_sms(client: AppClient) -> None:
    response, page = await open_form(client)
    assert response.status == 200
    assert 'name="pass_no"' in page and 'name="id_no"' in page and 'name="phone"' in page
    assert "<script" not in page
    response, page = await post(
        client, "/verify", page, pass_no="khps113 000043", id_no="qq12345673", phone="0960-123-411"
    )
    assert response.status == 200, page  # after the redirect: the confirmation (R4)
    assert "確定要取得KHPS113-000043人員通行證的手機驗證碼??" in page
    assert "0960-***-411" in page and "0960123411" not in page
    assert await sent_sms(services_of(client), HOLDER_E164) == []  # nothing before R4's yes
    response, page = await post(client, "/verify/confirm", page, action="confirm")
    assert response.status == 200 and 'name="code"' in page
    code = await code_from_sms(client)
    response, page = await post(client, "/verify/code", page, code=code)
    assert response.status == 200 and "手機驗證完成" in page
    assert await status(client) is Status.VERIFIED


async def test_a_double_submit_or_reload_sends_one_sms(client: AppClient) -> None:
    _, page = await open_form(client)
    from tests.e2e.web.form_steps import HOLDER

    _, confirm_page = await post(client, "/verify", page, **HOLDER)
    first, _ = await post(client, "/verify/confirm", confirm_page, action="confirm")
    second, again = await post(client, "/verify/confirm", confirm_page, action="confirm")
    assert first.status == second.status == 200
    assert 'name="code"' in again
    _, reloaded = await open_form(client)
    assert 'name="code"' in reloaded
    assert len(await sent_sms(services_of(client), HOLDER_E164)) == 1
