"""What the form's browser tests share: a phone-sized page, axe-core, screenshots, and
the steps a holder takes by tapping (or by keyboard)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page

from tests.e2e.web.test_link_page_browser import PHONE_VIEWPORT

ARTIFACTS = Path(__file__).resolve().parents[3] / "build" / "test-artifacts" / "verify-form"
AXE = Path(__file__).with_name("axe") / "axe.min.js"
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}

_SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""

_SMALL_TARGETS = """() => [...document.querySelectorAll('a, button, input:not([type=hidden])')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
  .map(e => e.outerHTML.slice(0, 80))"""


async def phone_context(
    browser: Browser, *, locale: str = "zh-TW", javascript: bool = True
) -> BrowserContext:
    """390×844 touch. ``bypass_csp`` only so axe-core can be injected: the pages' CSP
    rightly allows no script at all (the JavaScript-off test keeps the CSP)."""
    return await browser.new_context(
        viewport=PHONE_VIEWPORT,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        java_script_enabled=javascript,
        bypass_csp=javascript,
    )


async def check_page(page: Page, name: str) -> None:
    """Screenshot, then axe-core: no serious or critical violation; every tap target
    at least 44 px; nothing wider than the screen."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(_SERIOUS)
    assert violations == [], f"{name}: {violations}"
    small = await page.evaluate(_SMALL_TARGETS)
    assert small == [], f"{name}: tap targets under 44 px: {small}"
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] if page.viewport_size else True, name


async def fill_details(page: Page, labels: tuple[str, str, str], values: dict[str, str]) -> None:
    """Types into each field found by its label, as a screen reader user would find it."""
    for label, name in zip(labels, ("pass_no", "id_no", "phone"), strict=True):
        await page.get_by_label(label, exact=False).first.fill(values[name])


async def tap(page: Page, name: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=name).tap()


async def focused_id(page: Page) -> str:
    value: str = await page.evaluate("document.activeElement && document.activeElement.id")
    return value
