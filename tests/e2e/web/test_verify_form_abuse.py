"""The form against someone who knows a holder's pass, ID and phone, or none of them:
no forged POST, no cookie that carries personal data, a cool-down that a new cookie
or a made-up ``X-Forwarded-For`` does not reset, and a limit on lookups per address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from bot.config import load_config
from bot.web.verify_form.limits import LOOKUPS_PER_MINUTE
from tests.e2e.conftest import AppClient, sent_sms, services_of
from tests.e2e.outage import database_locked, database_url
from tests.e2e.web.form_steps import HOLDER, HOLDER_E164, ZH, ask_for_code, open_form, post, tag_of


async def test_a_post_without_our_tag_or_from_another_site_is_refused(client: AppClient) -> None:
    _, page = await open_form(client)
    response = await client.post("/verify", data=HOLDER, headers=ZH)
    assert response.status == 403
    assert "請在下方重新輸入" in await response.text()  # a fresh form, not a dead end
    forged = await client.post(
        "/verify",
        data={**HOLDER, "tag": tag_of(page)},
        headers={**ZH, "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status == 403
    _, page = await open_form(client)
    assert 'value="KHPS113-000043"' not in page  # nothing was kept


async def test_the_cookie_is_a_random_id_only(client: AppClient) -> None:
    response, _ = await open_form(client)
    cookie = response.cookies["pp_form"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/verify"
    await post(client, "/verify", (await open_form(client))[1], **HOLDER)
    jar = " ".join(c.value for c in client.session.cookie_jar)
    for secret in ("KHPS113", "000043", "QQ12345673", "0960123411", "886960123411"):
        assert secret not in jar


async def test_the_cool_down_counts_the_address_not_the_cookie(client: AppClient) -> None:
    """Five mismatches, each from a browser with no cookie and a different forged
    X-Forwarded-For (we are not behind a trusted proxy): the sixth try is cooled down,
    even with the right details, and no SMS went out."""
    url = client.make_url("/verify")
    for n in range(6):
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
            headers = {**ZH, "X-Forwarded-For": f"198.51.100.{n}"}
            page = await (await browser.get(url, headers=headers)).text()
            details = HOLDER if n == 5 else {**HOLDER, "phone": "0912345678"}
            confirm = await browser.post(
                url, data={"tag": tag_of(page), **details}, headers=headers
            )
            response = await browser.post(
                client.make_url("/verify/confirm"),
                data={"tag": tag_of(await confirm.text()), "action": "confirm"},
                headers=headers,
            )
            text = await response.text()
            if n < 5:
                assert response.status == 422 and "查無人員通行證或手機資料" in text
    assert response.status == 429 and "失敗次數過多" in text
    assert await sent_sms(services_of(client), HOLDER_E164) == []


async def test_lookups_per_address_are_limited(client: AppClient) -> None:
    """Asking again for the same pass is a lookup each time (R2 answers it: no SMS);
    past the per-minute limit the address waits, told how long."""
    response, _ = await ask_for_code(client)
    assert response.status == 200
    for _ in range(LOOKUPS_PER_MINUTE - 1):
        response, page = await ask_for_code(client)
        assert response.status == 200 and 'name="code"' in page
    response, page = await ask_for_code(client)
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert 'href="/verify?lang=zh-TW"' in page
    assert len(await sent_sms(services_of(client), HOLDER_E164)) == 1


async def test_each_language_by_header_and_by_link(client: AppClient) -> None:
    page = await (await client.get("/verify", headers={"Accept-Language": "vi"})).text()
    assert "Số thẻ ra vào" in page and 'lang="vi"' in page
    page = await (await client.get("/verify?lang=id", headers=ZH)).text()
    assert "Nomor kartu izin" in page
    page = await (await client.get("/verify", headers={"Accept-Language": "en-GB"})).text()
    assert "Pass number" in page
    page = await (await client.get("/verify")).text()
    assert "通行證號" in page  # zh-TW by default


async def test_a_database_outage_is_503_and_nothing_half_done(
    make_client: Callable[..., Awaitable[AppClient]], config_env: dict[str, str], tmp_path: Path
) -> None:
    db = tmp_path / "portpass.db"
    env = config_env | {"PORTPASS_DATABASE_URL": database_url(db)}
    client = await make_client(load_config(None, env, cwd=tmp_path))
    _, page = await open_form(client)
    _, confirm_page = await post(client, "/verify", page, **HOLDER)
    async with database_locked(db):
        response, text = await post(client, "/verify/confirm", confirm_page, action="confirm")
        assert response.status == 503 and "請稍後再試" in text
        assert (await client.get("/verify", headers=ZH)).status == 503
    response, page = await post(client, "/verify/confirm", confirm_page, action="confirm")
    assert response.status == 200 and 'name="code"' in page  # the question was still open
    assert len(await sent_sms(services_of(client), HOLDER_E164)) == 1
