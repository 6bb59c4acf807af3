"""The link page in a real browser at phone size: Debian's Chromium, headless, 390×844
(an iPhone 12–15's viewport), driven by Playwright.

What a holder sees and does: the request page with the masked pass and phone and one
button they can reach without scrolling sideways, a tap, the done page, and the link
opened again later. Screenshots of the three pages are kept in
``build/test-artifacts/link-page/`` for a person to look at.

The browser is the system's (``apt-get install chromium``; ``.ci/run`` installs it):
the tests never download one. Without it they skip, saying so, unless
``PORTPASS_REQUIRE_BROWSER=1`` (set by ``.ci/run``), when they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.config import load_config
from core.model import Status
from tests.e2e.conftest import AppClient
from tests.e2e.web.test_link_page import issue_link, status

ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts" / "link-page"
PHONE_VIEWPORT = {"width": 390, "height": 844}
CHROMIUM_FLAGS = [
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: the network here is closed
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    reason = "browser tests need Debian's chromium package (apt-get install chromium)"
    if os.environ.get("PORTPASS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (PORTPASS_REQUIRE_BROWSER=1: they must run here)")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(
        viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, locale="zh-TW"
    )
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
async def client(
    make_client: Callable[..., Awaitable[AppClient]], config_env: dict[str, str], tmp_path: Path
) -> AppClient:
    """The app at the address the browser opens, with that as ``public_base_url``: the
    confirm POST carries the page's origin, which must be ours (``Origin: null`` is
    refused), as in production, where the SMS link and the page share the origin."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = config_env | {"PORTPASS_SERVER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    return await make_client(load_config(None, env, cwd=tmp_path), port=port)


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def fits_the_screen(page: Page) -> bool:
    """No sideways scrolling: nothing wider than the phone."""
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    return width <= PHONE_VIEWPORT["width"]


async def test_a_holder_confirms_on_a_phone_and_reopening_says_already_verified(
    client: AppClient, phone: Page
) -> None:
    url = str(client.make_url(await issue_link(client)))

    opened = await phone.goto(url)
    assert opened is not None and opened.status == 200
    await screenshot(phone, "1-request")
    assert await phone.inner_text("h1") == "港區通行證手機驗證"
    body = await phone.inner_text("main")
    assert "KHPS113-**0043" in body and "0960-***-411" in body
    button = phone.get_by_role("button", name="確認驗證")
    box = await button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE_VIEWPORT["height"]
    assert box["height"] >= 44  # a thumb's target
    for link in await phone.locator(".languages a").all():  # the language links too
        link_box = await link.bounding_box()
        assert link_box is not None and link_box["height"] >= 44
    assert await fits_the_screen(phone)
    assert await status(client) is Status.UNVERIFIED  # opening never verifies

    async with phone.expect_navigation():
        await button.tap()
    await screenshot(phone, "2-done")
    assert await phone.inner_text("h1") == "手機驗證完成"
    assert "您可以關閉此頁" in await phone.inner_text("main")
    assert await fits_the_screen(phone)
    assert await status(client) is Status.VERIFIED

    again = await phone.goto(url)
    assert again is not None and again.status == 200
    await screenshot(phone, "3-already-verified")
    assert await phone.inner_text("h1") == "已完成驗證"
    assert await phone.locator(".card.ok").count() == 1
    assert await fits_the_screen(phone)

    async with phone.expect_navigation():
        await phone.get_by_role("link", name="English").tap()
    assert await phone.inner_text("h1") == "Already verified"
