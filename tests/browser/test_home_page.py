"""The risk-warning home page in Chromium against the demo book, at a laptop's width and a phone's: each role's own
signals first, each figure opening the list behind it, nothing running off the page at 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


async def test_home_page_shows_each_roles_signals_and_opens_the_list(page: Page) -> None:
    for width, role, first in ((1366, "credit_officer", "breach"), (390, "disposal_officer", "cases_due")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.context.clear_cookies()
        await page.goto("/login")
        await sign_in(page, role)
        await page.goto("/home")
        own = page.get_by_test_id("own-signals")
        await expect(own.locator("li.signal").first).to_have_attribute("data-signal", first)
        if width == 390:
            assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        await page.screenshot(path=f"test-results/home-{role}-{width}.png", full_page=True)
    # The disposal officer's first signal lists the demo's case whose next round is due, and opens it.
    await page.get_by_role("link", name="DC-2026-002").click()
    await expect(page).to_have_url(re.compile(r"/disposals/DC-2026-002$"))


async def test_the_breach_figure_is_the_number_of_loans_its_list_shows(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.goto("/home")
    figure = page.get_by_test_id("signal-breach")
    count = (await figure.inner_text()).replace(",", "")
    await figure.click()
    await expect(page).to_have_url(re.compile(r"/coverage/loans\?flag=breach$"))
    await expect(page.get_by_test_id("total")).to_have_text(count)


async def test_the_asset_register_fits_a_phone(page: Page) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, "asset_manager")
    await page.goto("/assets")
    await expect(page.get_by_test_id("asset-register")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
