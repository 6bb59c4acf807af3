"""No message tells a holder to reply by SMS where replies cannot reach us
(``sms.receives_replies``; Twilio to Taiwan: they cannot): the link page's problem
pages and the refusals point to the web form instead. Both settings are pinned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import load_config
from fakes.clock import FakeClock
from tests.e2e.conftest import PUBLIC_BASE_URL, AppClient, sent_sms, services_of
from tests.e2e.web.form_steps import HOLDER, HOLDER_E164, ask_for_code, code_from_sms, post
from tests.e2e.web.test_link_page import ZH_PAGE, issue_link

MakeClient = Callable[..., Awaitable[AppClient]]
FORM = f"{PUBLIC_BASE_URL}/verify"


async def client_with(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path, replies: str
) -> AppClient:
    env = {**config_env, "PORTPASS_SMS_RECEIVES_REPLIES": replies}
    return await make_client(load_config(None, env, cwd=tmp_path))


@pytest.mark.parametrize(("replies", "reply_said"), [("no", False), ("yes", True)])
async def test_an_expired_link_says_how_to_get_a_new_code(
    make_client: MakeClient,
    config_env: dict[str, str],
    tmp_path: Path,
    clock: FakeClock,
    replies: str,
    reply_said: bool,
) -> None:
    client = await client_with(make_client, config_env, tmp_path, replies)
    path = await issue_link(client)
    clock.advance(hours=25)
    for language, reply_word in (("zh-TW", "回覆「驗證」"), ("en", "reply VERIFY")):
        response = await client.get(f"{path}?lang={language}", headers=ZH_PAGE)
        page = await response.text()
        assert response.status == 410
        assert (reply_word in page) is reply_said, page
        assert (FORM in page) is not reply_said, page
        assert f'href="/verify?lang={language}"' in page  # a way on, either way


async def test_twilio_means_no_replies_unless_told(
    config_env: dict[str, str], tmp_path: Path
) -> None:
    twilio = {
        **config_env,
        "PORTPASS_SMS_SENDER": "twilio",
        "PORTPASS_TWILIO_FROM_NUMBER": "+15005550006",
    }
    assert not load_config(None, twilio, cwd=tmp_path).sms.replies_arrive
    assert load_config(None, config_env, cwd=tmp_path).sms.replies_arrive  # console
    told = {**twilio, "PORTPASS_SMS_RECEIVES_REPLIES": "yes"}
    assert load_config(None, told, cwd=tmp_path).sms.replies_arrive


@pytest.mark.parametrize("replies", ["no", "yes"])
async def test_a_code_asked_by_sms_is_typed_in_the_form_without_a_second_sms(
    make_client: MakeClient,
    config_env: dict[str, str],
    tmp_path: Path,
    replies: str,
) -> None:
    """A holder whose code was asked elsewhere (by SMS, by a stranger's chat) passes R1 in
    the form and joins that code: no second SMS (R2), no dead end, whether or not SMS
    replies arrive; the code from the SMS finishes it here."""
    client = await client_with(make_client, config_env, tmp_path, replies)
    await issue_link(client)  # asked by SMS: this browser did not ask
    services = services_of(client)
    sent_before = len(await sent_sms(services, HOLDER_E164))
    response, page = await ask_for_code(client, **HOLDER)
    assert response.status == 200 and 'name="code"' in page, page
    assert "回覆該簡訊" not in page
    assert len(await sent_sms(services, HOLDER_E164)) == sent_before
    response, page = await post(client, "/verify/code", page, code=await code_from_sms(client))
    assert response.status == 200 and "手機驗證完成" in page
