"""The verification link over real HTTP: the demo registry on SQLite, a real request made
through the verification service, and the link read from the SMS in the outbox.

What matters most: a GET (what link scanners do) never verifies; only a POST from our
own page (form tag, Origin, Sec-Fetch-Site) does; every page says what happened."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.web.link_page import LINK_REQUESTS_PER_MINUTE
from core.model import Channel, Requester, Status
from core.status import status_of
from core.values import IdNumber, PassNumber, Phone
from fakes.clock import FakeClock
from tests.e2e.conftest import PUBLIC_BASE_URL, AppClient, sent_sms, services_of

PASS_NO = "KHPS113-000043"
HOLDER = Requester(key="sms:+886960123411", channel=Channel.SMS, actor="holder")
MakeClient = Callable[..., Awaitable[AppClient]]
ZH_PAGE = {"Accept-Language": "zh-TW,zh;q=0.9"}


async def issue_link(client: AppClient) -> str:
    """A real request for the guide's holder; returns the link's path (``/v/<token>``)."""
    services = services_of(client)
    await services.verification.request_as_holder(
        HOLDER,
        PassNumber.parse(PASS_NO),
        IdNumber.parse("QQ12345673", trust_check_digit=False),
        Phone.parse("0960123411"),
    )
    body = (await sent_sms(services, "+886960123411"))[-1]
    base_url = services.config.server.public_base_url
    match = re.search(re.escape(base_url) + r"(/v/[A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


async def status(client: AppClient) -> Status:
    async with services_of(client).uow() as uow:
        record = await uow.passes.get(PassNumber.parse(PASS_NO))
    assert record is not None
    return status_of(record)


def form_tag(page: str) -> str:
    match = re.search(r'name="tag" value="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


async def open_page(client: AppClient, path: str) -> str:
    response = await client.get(path, headers=ZH_PAGE)
    assert response.status == 200
    return await response.text()


# --- GET shows, never verifies -----------------------------------------------------------


async def test_get_shows_the_masked_pass_phone_and_expiry_and_does_not_verify(
    client: AppClient,
) -> None:
    path = await issue_link(client)
    page = await open_page(client, path)
    assert "KHPS113-**0043" in page
    assert "0960-***-411" in page
    assert "2026/11/28 10:00（臺北時間）" in page  # created 10:00 Taipei, valid 24 hours
    assert PASS_NO not in page and "0960123411" not in page and "0960-123-411" not in page
    assert page.count("<form") == 1 and page.count("<button") == 1
    assert '<form method="post">' in page
    assert "<script" not in page
    assert await status(client) is Status.UNVERIFIED


def sentences(page: str) -> list[str]:
    """The page's visible sentences (text between tags, cut at 。)."""
    text = re.sub(r"<style>.*?</style>|<title>.*?</title>", "", page, flags=re.S)
    parts = re.split(r"<[^>]+>|。", text)
    return [part.strip() for part in parts if len(part.strip()) > 6]


async def test_why_the_page_exists_comes_first_and_no_sentence_is_said_twice(
    client: AppClient,
) -> None:
    path = await issue_link(client)
    page = await open_page(client, path)
    purpose = "驗證後，這支手機會收到通行證停用及進出紀錄異常的通知簡訊"
    assert page.index(purpose) < page.index('<div class="card">') < page.index("<form")
    assert f'<p class="purpose">{purpose}。</p>' in page  # normal text, not a small note
    response = await client.post(path, data={"tag": form_tag(page)}, headers=ZH_PAGE)
    done = await response.text()
    for shown in (page, done):
        said = sentences(shown)
        assert len(said) == len(set(said)), said
    assert done.count("手機驗證完成") == 2  # the <title> and the <h1>, no third time


async def test_repeated_gets_and_heads_never_verify(client: AppClient) -> None:
    path = await issue_link(client)
    for _ in range(3):
        assert (await client.get(path)).status == 200
        assert (await client.head(path)).status == 200
    assert await status(client) is Status.UNVERIFIED


# --- POST confirms, only from our own page -------------------------------------------------


async def test_post_with_the_form_tag_verifies(client: AppClient) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    response = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
    assert response.status == 200
    page = await response.text()
    assert "手機驗證完成" in page
    assert "KHPS113-**0043" in page and "0960-***-411" in page
    assert await status(client) is Status.VERIFIED


async def test_post_with_our_own_origin_verifies(client: AppClient) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    headers = {"Origin": PUBLIC_BASE_URL, "Sec-Fetch-Site": "same-origin"}
    response = await client.post(path, data={"tag": tag}, headers=headers)
    assert response.status == 200
    assert await status(client) is Status.VERIFIED


async def test_a_null_origin_on_the_link_pages_post_counts_as_foreign(client: AppClient) -> None:
    """``Origin: null`` comes from a sandboxed frame, a data: page or a cross-origin
    redirect: where a forged form is posted from. Our own page sends its origin."""
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    for headers in ({"Origin": "null"}, {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):
        response = await client.post(path, data={"tag": tag}, headers=headers | ZH_PAGE)
        assert response.status == 403, headers
        assert "無法確認這次操作來自驗證頁面" in await response.text()
    assert await status(client) is Status.UNVERIFIED


async def test_post_without_or_with_a_wrong_tag_is_forbidden_and_changes_nothing(
    client: AppClient,
) -> None:
    path = await issue_link(client)
    right = form_tag(await open_page(client, path))
    other_token_tag = services_of(client).hasher.form_tag("AAAAAAAAAAAA")
    for data in ({}, {"tag": ""}, {"tag": "0" * 64}, {"tag": right[:-1]}, {"tag": other_token_tag}):
        response = await client.post(path, data=data, headers=ZH_PAGE)
        assert response.status == 403, data
        assert "無法確認這次操作來自驗證頁面" in await response.text()
    response = await client.post(path, data={"tag": "é" * 64})  # not ASCII: still just wrong
    assert response.status == 403
    assert await status(client) is Status.UNVERIFIED


async def test_post_from_a_foreign_origin_is_forbidden(client: AppClient) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "http://pp.example.tw"},  # our host, but not over https
        {"Origin": "https://pp.example.tw:8443"},
        {"Origin": "not a url"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    ):
        response = await client.post(path, data={"tag": tag}, headers=headers)
        assert response.status == 403, headers
    assert await status(client) is Status.UNVERIFIED


# --- pages for links that cannot verify ---------------------------------------------------------


async def test_a_used_link_is_a_green_already_verified_page_not_a_problem(
    client: AppClient,
) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    done = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
    assert done.status == 200
    assert "您可以關閉此頁" in await done.text()  # the done page says what happens next
    again = await client.get(path, headers=ZH_PAGE)
    repost = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
    for response in (again, repost):
        assert response.status == 200
        page = await response.text()
        assert "<h1>已完成驗證</h1>" in page
        assert 'class="card ok"' in page and 'class="card problem"' not in page
        assert "此驗證連結已經使用過，手機已完成驗證" in page
        assert "如需新的驗證碼" not in page  # nothing to renew: it is verified
    english = await client.get(path + "?lang=en")
    assert "<h1>Already verified</h1>" in await english.text()
    assert await status(client) is Status.VERIFIED


async def test_the_language_switch_link_is_marked_with_its_language(client: AppClient) -> None:
    page = await open_page(client, await issue_link(client))
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in page


async def test_an_expired_link_says_so_and_how_to_get_a_new_code(
    client: AppClient, clock: FakeClock
) -> None:
    path = await issue_link(client)
    tag = form_tag(await open_page(client, path))
    clock.advance(hours=24)
    for response in (
        await client.get(path, headers=ZH_PAGE),
        await client.post(path, data={"tag": tag}, headers=ZH_PAGE),
    ):
        assert response.status == 410
        page = await response.text()
        assert "此驗證連結已超過24小時有效時限" in page
        assert "如需新的驗證碼" in page
    assert await status(client) is Status.UNVERIFIED


async def test_wrong_codes_typed_elsewhere_leave_the_link_working(client: AppClient) -> None:
    path = await issue_link(client)
    verification = services_of(client).verification
    for _ in range(6):
        try:
            await verification.check_code(HOLDER, Phone.parse("0960123411"), "000000")
        except Exception:  # noqa: S112 - wrong codes raise; that is the point here
            continue
    tag = form_tag(await open_page(client, path))
    response = await client.post(path, data={"tag": tag}, headers=ZH_PAGE)
    assert response.status == 200
    assert await status(client) is Status.VERIFIED


async def test_unknown_tokens_get_404(client: AppClient) -> None:
    await issue_link(client)
    for path in ("/v/AAAAAAAAAAAA", "/v/x", "/v/" + "A" * 100, "/v/%3Cscript%3E"):
        response = await client.get(path, headers=ZH_PAGE)
        assert response.status == 404, path
        page = await response.text()
        assert "此驗證連結無效或已過期" in page
        assert "<script>" not in page
    response = await client.post("/v/AAAAAAAAAAAA", data={"tag": "x"})
    assert response.status == 403  # the tag is checked before any lookup


# --- rate limit, headers, language ------------------------------------------------------------


async def test_requests_over_the_limit_get_429_with_retry_after(client: AppClient) -> None:
    path = await issue_link(client)
    for _ in range(LINK_REQUESTS_PER_MINUTE):
        assert (await client.get(path)).status == 200
    response = await client.get(path, headers=ZH_PAGE)
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "操作太頻繁" in await response.text()
    posted = await client.post(path, data={"tag": "x"})
    assert posted.status == 429  # POSTs count too, and are refused before anything else
    assert (await client.get("/v/AAAAAAAAAAAA")).status == 429
    assert await status(client) is Status.UNVERIFIED


async def test_every_page_carries_the_security_headers(client: AppClient) -> None:
    path = await issue_link(client)
    responses = [
        await client.get(path),
        await client.post(path, data={}),
        await client.get("/v/AAAAAAAAAAAA"),
    ]
    for response in responses:
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "form-action 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        # The one inline stylesheet is allowed by its hash.
        page = await response.text()
        match = re.search(r"<style>(.*?)</style>", page, re.S)
        assert match
        digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
        assert f"style-src 'sha256-{digest}'" in csp


async def test_english_by_accept_language_or_the_toggle(client: AppClient) -> None:
    path = await issue_link(client)
    by_header = await client.get(path, headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    page = await by_header.text()
    assert '<html lang="en">' in page
    assert "Port pass phone verification" in page
    assert "2026/11/28 10:00 (Taipei time)" in page
    assert '<a href="?lang=zh-TW"' in page
    assert by_header.headers["Content-Language"] == "en"

    chinese = await (await client.get(path, headers=ZH_PAGE)).text()
    assert '<html lang="zh-Hant-TW">' in chinese and '<a href="?lang=en"' in chinese

    toggled = await client.get(path + "?lang=en", headers=ZH_PAGE)
    page = await toggled.text()
    assert "Please check that this pass and mobile number are yours" in page
    done = await client.post(path + "?lang=en", data={"tag": form_tag(page)}, headers=ZH_PAGE)
    assert done.status == 200
    assert "Phone verified" in await done.text()


async def test_without_a_language_preference_the_page_is_chinese(client: AppClient) -> None:
    path = await issue_link(client)
    page = await (await client.get(path, headers={"Accept-Language": "fr-FR"})).text()
    assert "港區通行證手機驗證" in page


# --- who is writing, and what the phone is for -----------------------------


async def test_the_page_names_the_organisation_whom_to_ask_and_what_the_phone_is_for(
    client: AppClient,
) -> None:
    page = await open_page(client, await issue_link(client))
    assert '<p class="org">臺灣港務股份有限公司</p>' in page
    assert "如有疑問，請洽您公司的通行證帳號管理員" in page
    assert "這支手機會收到通行證停用及進出紀錄異常的通知簡訊" in page
    assert "驗證紀錄在驗證碼到期後保存 90 天" in page
    english = await (await client.get(await issue_link_again(client) + "?lang=en")).text()
    assert "Taiwan International Ports Corporation" in english
    assert "kept for 90 days after the code expires" in english


async def issue_link_again(client: AppClient) -> str:
    """The link of the request already made (R2 allows no second one)."""
    body = (await sent_sms(services_of(client), "+886960123411"))[-1]
    match = re.search(re.escape(PUBLIC_BASE_URL) + r"(/v/[A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


async def test_the_organisation_and_contact_come_from_the_config(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    env = config_env | {
        "PORTPASS_ORGANISATION_NAME_ZH": "高雄港務分公司",
        "PORTPASS_ORGANISATION_CONTACT_ZH": "服務專線 07-000-0000",
        "PORTPASS_RETENTION_VERIFICATION_REQUESTS_DAYS": "30",
    }
    client = await make_client(load_config(None, env, cwd=tmp_path))
    page = await open_page(client, await issue_link(client))
    assert '<p class="org">高雄港務分公司</p>' in page and "服務專線 07-000-0000" in page
    assert "保存 30 天" in page


async def test_every_language_shows_its_own_organisation_name_contact_phone_and_page(
    make_client: MakeClient, config_env: dict[str, str], tmp_path: Path
) -> None:
    env = config_env | {
        "PORTPASS_ORGANISATION_PHONE": "07-5612311",
        "PORTPASS_ORGANISATION_PAGE_URL": "https://www.twport.com.tw/portpass",
    }
    client = await make_client(load_config(None, env, cwd=tmp_path))
    path = await issue_link(client)
    chinese = await open_page(client, path)
    assert '<a href="tel:07-5612311">客服電話 07-5612311</a>' in chinese
    assert '<a href="https://www.twport.com.tw/portpass" rel="noopener">' in chinese
    vietnamese = await (await client.get(path + "?lang=vi")).text()
    assert '<p class="org">Công ty Cổ phần Cảng Quốc tế Đài Loan</p>' in vietnamese
    assert "Hãy hỏi người quản lý thẻ ra vào" in vietnamese
    assert "Điện thoại 07-5612311" in vietnamese and "Thông tin https://www.twport" in vietnamese
    assert "Taiwan International Ports" not in vietnamese
    assert "Ask your company" not in vietnamese
    indonesian = await (await client.get(path + "?lang=id")).text()
    assert '<p class="org">Perusahaan Pelabuhan Internasional Taiwan</p>' in indonesian
    assert "Telepon 07-5612311" in indonesian and "Tanyakan pengelola kartu pas" in indonesian


async def test_a_page_that_is_not_https_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PORTPASS_ORGANISATION_PAGE_URL": "http://twport.example"}, cwd=tmp_path)
    assert caught.value.key == "organisation.page_url"
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"PORTPASS_ORGANISATION_PHONE": "call us"}, cwd=tmp_path)
    assert caught.value.key == "organisation.phone"
