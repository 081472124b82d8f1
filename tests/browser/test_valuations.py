"""The valuation approval queue (four eyes) and the revaluation worklist in Chromium, on the demo book."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import UI_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

ASSET = "BT-VAL-1"


async def _submit_as_asset_manager(page: Page) -> int:
    """A new equipment asset and a valuation of it 200 days old, through the JSON API."""
    parties = await (await page.request.get("/api/parties?page_size=1")).json()
    created = await page.request.post(
        "/api/assets",
        data={"ref": ASSET, "kind": "equipment", "owner_ref": parties["items"][0]["ref"], "description": "Press line"},
    )
    assert created.status == 201, await created.text()
    # Older than any demo appraisal, so it heads the stale list (oldest first).
    valued_on = (date.today() - timedelta(days=1500)).isoformat()
    submitted = await page.request.post(
        "/api/valuations",
        data={
            "asset_ref": ASSET,
            "valued_on": valued_on,
            "market_value": "480000.00",
            "currency": "CNY",
            "method": "cost",
            "appraiser": "Browser Appraisal Co.",
        },
    )
    assert submitted.status == 201, await submitted.text()
    return int((await submitted.json())["id"])


async def test_submit_approve_by_another_user_then_the_worklist_shows_it_stale(
    page: Page, browser: Browser, server_url: str
) -> None:
    await sign_in(page, "asset_manager")
    valuation_id = await _submit_as_asset_manager(page)
    # The submitter sees the valuation queued but cannot approve it.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    await expect(page).to_have_url(re.compile(r"/valuations$"))
    own = page.get_by_test_id("valuation-queue").locator(f'tr[data-id="{valuation_id}"]')
    await expect(own).to_contain_text(ASSET)
    await expect(own.get_by_test_id("own-valuation")).to_be_visible()
    await expect(own.get_by_role("button", name="Approve")).to_have_count(0)

    admin_context = await browser.new_context(base_url=server_url)
    admin_context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        admin = await admin_context.new_page()
        await sign_in(admin, "admin")
        policy = await admin.request.put(
            "/api/policies/equipment", data={"haircut": "0.4", "revaluation_days": 90, "max_ltv": "0.6"}
        )
        assert policy.ok, await policy.text()
        await admin.goto("/valuations")
        row = admin.get_by_test_id("valuation-queue").locator(f'tr[data-id="{valuation_id}"]')
        await expect(row).to_contain_text("480,000.00 CNY")
        await row.get_by_role("button", name="Approve").click()
        # htmx swaps the queue in place: the row is gone and the decision is confirmed.
        status = admin.get_by_test_id("queue-status")
        await expect(status).to_contain_text(f"Valuation {valuation_id} of {ASSET} approved")
        await expect(admin.locator(f'tr[data-id="{valuation_id}"]')).to_have_count(0)
        await admin.reload()
        await expect(admin.locator(f'tr[data-id="{valuation_id}"]')).to_have_count(0)
        history = await (await admin.request.get(f"/api/assets/{ASSET}/valuations")).json()
        assert (history["items"][0]["status"], history["items"][0]["decided_by"]) == ("approved", "admin")
    finally:
        await admin_context.close()

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    await expect(page).to_have_url(re.compile(r"/worklist$"))
    await page.get_by_label("Assets").select_option("stale")
    await page.get_by_role("button", name="Show").click()
    stale = page.get_by_test_id("assets-due").locator(f'tr[data-ref="{ASSET}"]')
    await expect(stale).to_have_attribute("data-reason", "stale")
    await expect(stale).to_contain_text("Stale")
    await expect(stale).to_contain_text("90 days")


async def test_a_reader_sees_the_queue_without_decision_buttons(page: Page, browser: Browser, server_url: str) -> None:
    manager_context = await browser.new_context(base_url=server_url)
    manager_context.set_default_timeout(UI_TIMEOUT_MS)
    try:  # a submitted valuation, so the reader's queue is not empty
        manager = await manager_context.new_page()
        await sign_in(manager, "asset_manager")
        parties = await (await manager.request.get("/api/parties?page_size=1")).json()
        created = await manager.request.post(
            "/api/assets", data={"ref": "BT-VAL-READ", "kind": "equipment", "owner_ref": parties["items"][0]["ref"]}
        )
        assert created.status == 201, await created.text()
        submitted = await manager.request.post(
            "/api/valuations",
            data={
                "asset_ref": "BT-VAL-READ",
                "valued_on": date.today().isoformat(),
                "market_value": "1000.00",
                "currency": "CNY",
                "method": "cost",
                "appraiser": "Reader Test Co.",
            },
        )
        assert submitted.status == 201, await submitted.text()
        valuation_id = (await submitted.json())["id"]
    finally:
        await manager_context.close()
    await sign_in(page, "auditor")
    await page.goto("/valuations")
    await expect(page.get_by_role("heading", name="Valuation approvals")).to_be_visible()
    row = page.get_by_test_id("valuation-queue").locator(f'tr[data-id="{valuation_id}"]')
    await expect(row).to_contain_text("BT-VAL-READ")
    await expect(row.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(row.get_by_role("button", name="Reject")).to_have_count(0)
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals")).to_have_count(0)
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist")).to_be_visible()
