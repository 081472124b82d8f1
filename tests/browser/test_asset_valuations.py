"""An asset manager sees an asset's value with its history drawn, and records a valuation from the asset page, at a
laptop's width and a phone's."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


async def test_value_history_chart_and_recording_a_valuation(page: Page) -> None:
    await sign_in(page, "asset_manager")
    approved = await (await page.request.get("/api/valuations?status=approved&page_size=1")).json()
    ref = approved["items"][0]["asset_ref"]
    for width in (1366, 390):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.goto(f"/assets/{ref}")
        await expect(page.get_by_test_id("current-value")).to_contain_text("Approved value")
        await expect(page.get_by_test_id("valuation-history").locator("tbody tr").first).to_be_visible()
        drawn = await page.wait_for_function(
            "() => { const c = document.querySelector('canvas[data-value-chart]');"
            " return !!(c && window.Chart && window.Chart.getChart(c)); }"
        )
        assert await drawn.json_value()
        if width == 390:
            assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        await page.screenshot(path=f"test-results/asset-valuations-{width}.png", full_page=True)
    form = page.get_by_test_id("valuation-form")
    await form.get_by_label("Valued on").fill("2026-11-25")
    await form.get_by_label("Market value").fill("1,234,567.89")
    await form.get_by_label("Currency").fill("CNY")
    await form.get_by_label("Method").select_option("desktop")
    await form.get_by_label("Appraiser").fill("Zhejiang Tianyuan Valuation")
    await form.get_by_role("button", name="Submit for approval").click()
    await expect(page.get_by_test_id("valuation-recorded")).to_be_visible()
    await expect(page.get_by_test_id("valuation-history")).to_contain_text("1,234,567.89")
