"""The web form in a real browser (Debian's Chromium through Playwright, as the link
page's tests): the whole flow at phone size in Chinese and in English, on a desktop,
by keyboard only and with JavaScript off; axe-core on every page and state (0 serious
or critical violations), tap targets of 44 px, screenshots kept in
``build/test-artifacts/verify-form/``."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from bot.config import load_config
from core.model import Status
from fakes.clock import FakeClock
from tests.e2e.conftest import AppClient
from tests.e2e.web.form_browser import (
    DESKTOP_VIEWPORT,
    check_page,
    fill_details,
    focused_id,
    phone_context,
    tap,
)
from tests.e2e.web.form_steps import HOLDER, code_from_sms
from tests.e2e.web.test_link_page import status
from tests.e2e.web.test_link_page_browser import browser  # noqa: F401 (a fixture)

ZH_LABELS = ("通行證號", "身分證號", "手機號碼")
EN_LABELS = ("Pass number", "ID number", "Mobile number")
GENERIC = "查無人員通行證或手機資料，無法取得驗證碼！"


@pytest.fixture
async def client(
    make_client: Callable[..., Awaitable[AppClient]], config_env: dict[str, str], tmp_path: Path
) -> AppClient:
    """The app at the address the browser opens, with that as ``public_base_url``: a
    form's POST carries the page's origin, which must be ours, as in production."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = config_env | {"PORTPASS_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    return await make_client(load_config(None, env, cwd=tmp_path), port=port)


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:  # noqa: F811
    context = await phone_context(browser)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def ask(page: Page, client: AppClient, values: dict[str, str]) -> None:
    """From the empty form to the answer of R4's question, by tapping."""
    await page.goto(str(client.make_url("/verify")))
    await fill_details(page, ZH_LABELS, values)
    await tap(page, "下一步")
    if await page.locator("#id_no-error").count():
        await tap(page, "下一步")  # the registry's ID fails its check digit: "it is right"
    await tap(page, "確定，傳送驗證碼")


async def test_a_holder_verifies_on_a_phone_in_chinese(client: AppClient, phone: Page) -> None:
    opened = await phone.goto(str(client.make_url("/")))
    assert opened is not None and opened.status == 200
    async with phone.expect_navigation():
        await phone.get_by_role("link", name="開始手機驗證").tap()
    assert await phone.inner_text("h1") == "港區通行證手機驗證"
    await check_page(phone, "zh-1-form")
    await fill_details(phone, ZH_LABELS, HOLDER)
    await tap(phone, "下一步")
    body = await phone.inner_text("main")
    assert "確定要取得KHPS113-000043人員通行證的手機驗證碼??" in body
    assert "0960-***-411" in body and "0960123411" not in body
    await check_page(phone, "zh-2-confirm")
    await tap(phone, "確定，傳送驗證碼")
    assert "驗證碼已傳送到 0960-***-411" in await phone.inner_text("main")
    await check_page(phone, "zh-3-code")
    await phone.get_by_label("6位數字驗證碼").fill(await code_from_sms(client))
    await tap(phone, "完成驗證")
    assert await phone.inner_text("h1") == "手機驗證完成"
    await check_page(phone, "zh-4-done")
    assert await status(client) is Status.VERIFIED
    await phone.reload()  # the done page stays the done page
    assert await phone.inner_text("h1") == "手機驗證完成"


async def test_a_holder_switches_to_english_and_verifies(
    client: AppClient,
    browser: Browser,  # noqa: F811
) -> None:
    context = await phone_context(browser, locale="en-US")
    page = await context.new_page()
    await page.goto(str(client.make_url("/verify?lang=vi")))
    assert await page.inner_text("h1") == "Xác minh điện thoại cho thẻ ra vào cảng"
    async with page.expect_navigation():
        await page.get_by_role("link", name="English").tap()  # the visible switch
    assert await page.inner_text("h1") == "Port pass phone verification"
    await check_page(page, "en-1-form")
    await fill_details(page, EN_LABELS, HOLDER)
    await tap(page, "Next")
    assert "Get a verification code for pass KHPS113-000043?" in await page.inner_text("main")
    await check_page(page, "en-2-confirm")
    await tap(page, "Yes, send the code")
    await check_page(page, "en-3-code")
    await page.get_by_label("6-digit code").fill(await code_from_sms(client))
    await tap(page, "Verify")
    assert await page.inner_text("h1") == "Phone verified"
    await check_page(page, "en-4-done")
    await context.close()


async def test_a_desktop_browser_shows_the_same_form(
    client: AppClient,
    browser: Browser,  # noqa: F811
) -> None:
    context = await browser.new_context(viewport=DESKTOP_VIEWPORT, bypass_csp=True, locale="zh-TW")
    page = await context.new_page()
    await page.goto(str(client.make_url("/verify")))
    await check_page(page, "desktop-1-form")
    await context.close()


async def test_keyboard_only(client: AppClient, phone: Page) -> None:
    await phone.goto(str(client.make_url("/verify")))
    await phone.keyboard.press("Tab")
    assert await focused_id(phone) == "pass_no"  # the first field is the first stop
    for name in ("pass_no", "id_no", "phone"):
        assert await focused_id(phone) == name
        await phone.keyboard.type(HOLDER[name])
        await phone.keyboard.press("Tab")
    async with phone.expect_navigation():
        await phone.keyboard.press("Enter")  # on the Next button
    await phone.keyboard.press("Tab")
    async with phone.expect_navigation():
        await phone.keyboard.press("Enter")  # the first button: send the code
    await phone.keyboard.press("Tab")
    assert await focused_id(phone) == "code"
    await phone.keyboard.type(await code_from_sms(client))
    async with phone.expect_navigation():
        await phone.keyboard.press("Enter")
    assert await phone.inner_text("h1") == "手機驗證完成"


async def test_with_javascript_off(client: AppClient, browser: Browser) -> None:  # noqa: F811
    context = await phone_context(browser, javascript=False)
    page = await context.new_page()
    await ask(page, client, HOLDER)
    await page.get_by_label("6位數字驗證碼").fill(await code_from_sms(client))
    await tap(page, "完成驗證")
    assert await page.inner_text("h1") == "手機驗證完成"
    await context.close()


# --- every error says what happened, tied to its field, focus on it ----------------------


async def test_a_check_digit_typo_is_caught_before_any_lookup(
    client: AppClient, phone: Page
) -> None:
    await phone.goto(str(client.make_url("/verify")))
    await fill_details(phone, ZH_LABELS, {**HOLDER, "id_no": "A123456788", "phone": "09601"})
    await tap(phone, "下一步")
    assert await focused_id(phone) == "id_no"  # the first field in error
    described = await phone.get_attribute("#id_no", "aria-describedby")
    assert described is not None and "id_no-error" in described
    assert "最後一碼好像不對" in await phone.inner_text("#id_no-error")
    assert "格式不正確" in await phone.inner_text("#phone-error")
    assert await phone.get_attribute("#phone", "aria-invalid") == "true"
    await check_page(phone, "error-check-digit")


@pytest.mark.parametrize(
    ("case", "values", "says"),
    [
        ("mismatch", {**HOLDER, "phone": "0912345678"}, GENERIC),
        (
            "no-phone-on-file",
            {"pass_no": "KHPS113-000034", "id_no": "X123456789", "phone": "0960123411"},
            GENERIC,
        ),
        (
            "out-of-validity",
            {"pass_no": "TCPS113-000102", "id_no": "C123456781", "phone": "0955666777"},
            "不在有效期間",
        ),
    ],
)
async def test_a_refusal_says_why(
    client: AppClient, phone: Page, case: str, values: dict[str, str], says: str
) -> None:
    await ask(phone, client, values)
    assert says in await phone.inner_text("#problem")
    assert await phone.input_value("#pass_no") == values["pass_no"]  # nothing to retype
    await check_page(phone, f"error-{case}")


async def test_five_mismatches_cool_the_address_down(client: AppClient, phone: Page) -> None:
    for _ in range(5):
        await ask(phone, client, {**HOLDER, "phone": "0912345678"})
        assert GENERIC in await phone.inner_text("#problem")
    await ask(phone, client, HOLDER)  # even the right details, for an hour
    assert "失敗次數過多" in await phone.inner_text("#problem")
    await check_page(phone, "error-cool-down")


async def test_already_asked_within_24_hours(
    client: AppClient,
    phone: Page,
    browser: Browser,  # noqa: F811
) -> None:
    """Another browser that passes R1 while a code is live joins it: no second SMS, and
    the code from the first SMS finishes it there (a stranger's request cannot block)."""
    await ask(phone, client, HOLDER)
    code = await code_from_sms(client)
    other = await phone_context(browser)  # another browser: another session
    page = await other.new_page()
    await ask(page, client, HOLDER)
    await check_page(page, "already-asked-joined")
    await page.get_by_label("6位數字驗證碼").fill(code)
    await tap(page, "完成驗證")
    assert await status(client) is Status.VERIFIED
    await other.close()


async def test_five_wrong_codes_lock_this_session_out(client: AppClient, phone: Page) -> None:
    await ask(phone, client, HOLDER)
    right = await code_from_sms(client)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for remaining in (4, 3, 2, 1):
        await phone.get_by_label("6位數字驗證碼").fill(wrong)
        await tap(phone, "完成驗證")
        assert f"{remaining}" in await phone.inner_text("#code-error")
        assert await focused_id(phone) == "code"
    await check_page(phone, "error-wrong-code")
    await phone.get_by_label("6位數字驗證碼").fill(wrong)
    await tap(phone, "完成驗證")
    assert "錯誤次數過多" in await phone.inner_text("#problem")
    await check_page(phone, "error-spent")
    assert await status(client) is Status.UNVERIFIED


async def test_an_expired_step_says_so_and_starts_over(
    client: AppClient, phone: Page, clock: FakeClock
) -> None:
    await phone.goto(str(client.make_url("/verify")))
    await fill_details(phone, ZH_LABELS, HOLDER)
    await tap(phone, "下一步")
    clock.advance(minutes=31)
    await tap(phone, "確定，傳送驗證碼")
    assert "逾時" in await phone.inner_text("main")
    assert await phone.input_value("#pass_no") == ""
    await check_page(phone, "error-expired-step")
