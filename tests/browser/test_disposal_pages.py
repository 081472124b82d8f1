"""The disposal pages in Chromium, on the demo book's cases (DC-2026-001 to -006).

The server is shared by the whole browser session, so each test that changes a case uses one no other test
changes (DC-2026-003's offer, DC-2026-004's settlement) or a case of its own; the others only read, or are
refused and so change nothing. Figures are checked against the JSON API on the same server."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import UI_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

SECOND_OFFICER = "disposal_officer_2"


async def api_get(page: Page, url: str) -> Any:
    response = await page.request.get(url)
    assert response.ok, await response.text()
    return await response.json()


async def sign_in_as(browser: Browser, server_url: str, username: str, width: int = 1366) -> Page:
    """A page of a new browser context signed in as `username` (the demo's second officer is not a role name)."""
    context = await browser.new_context(base_url=server_url, viewport={"width": width, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(f"demo-{username}")
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


def grouped(value: Decimal) -> str:
    return f"{value:,}"


async def shown_sum(page: Page, selector: str) -> Decimal:
    values = await page.locator(selector).evaluate_all("rows => rows.map(r => r.getAttribute('data-value'))")
    return sum((Decimal(v) for v in values), Decimal(0))


async def test_open_a_case_from_an_asset_page(page: Page) -> None:
    await sign_in(page, "disposal_officer")
    assets = await api_get(page, "/api/assets?status=active&kind=real_estate&page_size=200")
    opened = None
    for i, asset in enumerate(assets["items"][:40]):
        detail = await api_get(page, f"/api/assets/{asset['ref']}")
        if not detail["loans_secured"]:
            continue
        await page.goto(f"/assets/{asset['ref']}")
        await page.get_by_role("link", name="Open a disposal case").click()
        await expect(page).to_have_url(re.compile(r"/disposals/new\?asset_refs="))
        await expect(page.get_by_label("Assets of the lot")).to_have_value(asset["ref"])
        await page.get_by_label("Case ref").fill(f"BT-OPEN-{i}")
        await page.get_by_label("Rules the disposal follows").select_option("cn-commercial")
        await page.get_by_role("button", name="Open the case").click()
        await page.wait_for_load_state()
        if "/disposals/new" in page.url:  # refused (no current appraisal, no balance): shown beside the assets
            await expect(page.get_by_test_id("form-errors")).to_be_visible()
            await expect(page.locator("#asset_refs-error")).to_be_visible()
            continue
        opened = (f"BT-OPEN-{i}", asset["ref"])
        break
    assert opened, "the demo book has assets a disposal case can be opened on"
    ref, asset_ref = opened
    await expect(page).to_have_url(re.compile(rf"/disposals/{ref}\?done=opened$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(ref)
    await expect(page.get_by_test_id("case-state")).to_have_text("Open")
    await expect(page.get_by_test_id("lot").get_by_role("link", name=asset_ref)).to_be_visible()
    case = await api_get(page, f"/api/disposals/{ref}")
    assert (case["profile"], [a["asset_ref"] for a in case["assets"]]) == ("cn-commercial", [asset_ref])
    await page.goto(f"/assets/{asset_ref}")
    await expect(page.get_by_role("link", name="Open a disposal case")).to_have_count(0)


async def test_a_round_below_the_floor_is_refused_beside_the_field(page: Page) -> None:
    await sign_in(page, "disposal_officer")
    case = await api_get(page, "/api/disposals/DC-2026-001")
    assert (case["state"], case["rounds"]) == ("open", [])
    floor = (Decimal(case["appraisal"]) * Decimal("0.7")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    below = floor - Decimal("0.01")
    await page.goto("/disposals/DC-2026-001")
    await page.get_by_test_id("round-action").locator("summary").click()
    await expect(page.get_by_test_id("round-rules")).to_contain_text(grouped(floor))
    await page.get_by_label("Starting price (CNY)").fill(grouped(below))
    await page.get_by_label("Bid increment (CNY)").fill("1,000.00")
    await page.get_by_label("Deposit (CNY)").fill(grouped((below / 10).quantize(Decimal("0.01"))))
    await page.get_by_label("Public notice published on").fill("2020-01-01")
    await page.get_by_label("Bidding starts (UTC)").fill("2099-01-10T02:00")
    await page.get_by_label("Bidding ends (UTC)").fill("2099-01-11T02:00")
    await page.get_by_role("button", name="Schedule round 1").last.click()
    error = page.locator("#round-starting_price-error")
    await expect(error).to_have_text(
        f"starting price {grouped(below)} is below 70% of the appraisal "
        f"{grouped(Decimal(case['appraisal']))} (cn-judicial-online)"
    )
    await expect(page.get_by_label("Starting price (CNY)")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Starting price (CNY)")).to_have_value(grouped(below))  # kept as typed
    assert (await api_get(page, "/api/disposals/DC-2026-001"))["rounds"] == []


async def test_the_pending_offer_is_accepted_by_a_second_officer(page: Page, browser: Browser, server_url: str) -> None:
    await sign_in(page, "disposal_officer")
    await page.goto("/disposals/DC-2026-003")
    offers = page.get_by_test_id("offers")
    pending = offers.locator('tr[data-status="pending"]')
    await expect(pending).to_have_count(1)
    await expect(pending.get_by_test_id("own-offer")).to_be_visible()  # recorded by this officer
    await expect(pending.get_by_role("button", name="Accept")).to_have_count(0)

    second = await sign_in_as(browser, server_url, SECOND_OFFICER)
    try:
        await second.goto("/disposals/DC-2026-003")
        row = second.get_by_test_id("offers").locator('tr[data-status="pending"]')
        buyer = (await row.locator("td").first.inner_text()).strip()
        await row.get_by_role("button", name="Accept").click()
        await expect(second).to_have_url(re.compile(r"/disposals/DC-2026-003\?done=accepted$"))
        await expect(second.get_by_test_id("case-state")).to_have_text("Sold")
        await expect(second.get_by_test_id("sale")).to_contain_text(buyer)
        await expect(second.get_by_test_id("offers").locator('tr[data-status="accepted"]')).to_contain_text(
            SECOND_OFFICER
        )
    finally:
        await second.context.close()
    case = await api_get(page, "/api/disposals/DC-2026-003")
    assert (case["state"], case["sale_kind"]) == ("sold", "private_sale")


async def test_a_waterfall_preview_adds_up_to_the_gross(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.goto("/disposals/DC-2026-002/waterfall")
    await page.get_by_label("Gross proceeds (CNY)").fill("21,234,567.89")
    await page.get_by_label("Kind (expense 1)").select_option("auction_fee")
    await page.get_by_label("Amount (expense 1)").fill("150,000.00")
    await page.get_by_label("Kind (expense 3)").select_option("tax")  # row 2 left blank: ignored
    await page.get_by_label("Amount (expense 3)").fill("20,000.01")
    await page.get_by_role("button", name="Preview the waterfall").click()
    totals = page.get_by_test_id("totals")
    await expect(totals).to_be_visible()
    parts = await shown_sum(page, '[data-testid="totals"] tbody tr')
    total = Decimal(await totals.locator('tr[data-field="total"]').get_attribute("data-value") or "")
    gross = Decimal(await totals.locator('tr[data-field="gross"]').get_attribute("data-value") or "")
    assert parts == total == gross == Decimal("21234567.89")
    await expect(totals.locator('tr[data-field="gross"] td')).to_have_text("21,234,567.89 CNY")
    await expect(totals.locator('tr[data-field="expenses_paid"] td')).to_have_text("170,000.01")
    await expect(page.get_by_test_id("adds-up")).to_be_visible()
    split = await shown_sum(page, '[data-testid="asset-split"] td[data-field="gross"]')
    assert split == gross
    response = await page.request.post(
        "/api/disposals/DC-2026-002/waterfall",
        data={
            "gross_proceeds": "21234567.89",
            "expenses": [{"kind": "auction_fee", "amount": "150000.00"}, {"kind": "tax", "amount": "20000.01"}],
        },
    )
    api = await response.json()
    shown = (
        await page.get_by_test_id("waterfall-lines")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => [r.dataset.lien, r.dataset.loan, r.dataset.component, r.dataset.amount])")
    )
    assert shown == [[x["lien_id"], x["loan_id"] or "", x["component"] or "", x["amount"]] for x in api["lines"]]


async def test_the_second_officer_confirms_the_settlement_and_opens_the_statement(
    page: Page, browser: Browser, server_url: str
) -> None:
    await sign_in(page, "disposal_officer")
    await page.goto("/disposals/DC-2026-004/settlement")
    await expect(page.get_by_test_id("awaiting-second")).to_contain_text("awaiting a second disposal officer")
    await expect(page.get_by_role("button", name="Confirm settlement")).to_have_count(0)

    second = await sign_in_as(browser, server_url, SECOND_OFFICER)
    try:
        await second.goto("/disposals/DC-2026-004/settlement")
        await second.get_by_role("button", name="Confirm settlement").click()
        await expect(second).to_have_url(re.compile(r"/disposals/DC-2026-004/settlement\?done=confirmed$"))
        await expect(second.get_by_test_id("settlement-status")).to_contain_text("Settlement confirmed")
        await second.get_by_test_id("statement-link").click()
        await expect(second).to_have_url(re.compile(r"/disposals/DC-2026-004/statement$"))
        statement = second.get_by_test_id("statement")
        await expect(statement).to_have_attribute("data-status", "confirmed")
        await expect(second.get_by_test_id("draft")).to_have_count(0)
        await expect(second.get_by_test_id("statement-proposed")).to_contain_text("disposal_officer ·")
        await expect(second.get_by_test_id("statement-confirmed")).to_contain_text(SECOND_OFFICER)
        settled = await api_get(second, "/api/disposals/DC-2026-004/settlement")
        gross = Decimal(settled["waterfall"]["gross_proceeds"])
        await expect(second.get_by_test_id("statement-gross")).to_contain_text(grouped(gross))
        assert await shown_sum(second, '[data-testid="totals"] tbody tr') == gross
        await expect(second.get_by_test_id("waterfall-lines").locator("tbody tr")).to_have_count(
            len(settled["waterfall"]["lines"])
        )
        # Printed, the statement is the record alone: no navigation, no buttons.
        await second.emulate_media(media="print")
        await expect(second.locator("header.topbar")).to_be_hidden()
        await expect(second.get_by_role("button", name="Print")).to_be_hidden()
        await expect(second.get_by_test_id("totals")).to_be_visible()
    finally:
        await second.context.close()
    assert (await api_get(page, "/api/disposals/DC-2026-004"))["state"] == "settled"


async def test_an_auditor_reads_the_case_file_without_action_buttons(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Disposal").click()
    await expect(page).to_have_url(re.compile(r"/disposals$"))
    await page.get_by_test_id("case-list").get_by_role("link", name="DC-2026-002").click()
    await expect(page.get_by_test_id("next-deadline")).to_contain_text("Round 2 must start")
    await expect(page.get_by_test_id("rounds").locator('tr[data-status="failed"]')).to_have_count(1)
    await expect(page.get_by_test_id("case-actions")).to_have_count(0)
    await expect(page.get_by_role("button")).to_have_count(1)  # Log out, nothing else
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await page.goto("/disposals/DC-2026-006/settlement")
    await expect(page.get_by_test_id("no-settlement")).to_be_visible()
    await expect(page.get_by_test_id("propose-form")).to_have_count(0)
    await expect(page.get_by_role("button")).to_have_count(1)


async def test_the_metrics_chart_draws_the_api_figures(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.goto("/disposals/metrics")
    await page.get_by_label("Group by").select_option("profile")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"/disposals/metrics\?by=profile$"))
    api = await api_get(page, "/api/disposals/metrics?by=profile")
    assert api["rows"], "the demo has disposal cases"
    await page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('recovery-chart'))")
    drawn = await page.evaluate(
        """() => {
            const chart = Chart.getChart(document.getElementById('recovery-chart'));
            const datasets = chart.data.datasets.map(d => ({label: d.label, data: d.data}));
            return {labels: chart.data.labels, datasets: datasets};
        }"""
    )
    several = len({r["currency"] for r in api["rows"]}) > 1
    assert drawn["labels"] == [f"{r['group']} ({r['currency']})" if several else r["group"] for r in api["rows"]]

    def points(ratio: str | None) -> float | None:
        return None if ratio is None else float(Decimal(ratio) * 100)

    assert drawn["datasets"] == [
        {"label": "Recovery rate", "data": [points(r["recovery_rate"]) for r in api["rows"]]},
        {"label": "Discount to appraisal", "data": [points(r["discount_to_appraisal"]) for r in api["rows"]]},
    ]
    for r in api["rows"]:
        row = page.get_by_test_id("metrics").locator(f'tr[data-group="{r["group"]}"][data-currency="{r["currency"]}"]')
        shown = row.locator('[data-field="recovery_rate"]')
        await expect(shown).to_have_attribute("data-value", r["recovery_rate"] or "")
    csv = await page.request.get(await page.get_by_test_id("csv-link").get_attribute("href") or "")
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize("path", ["/disposals/DC-2026-005", "/disposals/DC-2026-005/statement"])
async def test_the_case_file_fits_a_phone(browser: Browser, server_url: str, path: str) -> None:
    page = await sign_in_as(browser, server_url, "auditor", width=390)
    try:
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_contain_text("DC-2026-005")
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths
        # Wide tables scroll inside their own box instead of the page.
        boxes = await page.locator(".table-scroll").evaluate_all(
            "boxes => boxes.map(b => [b.scrollWidth > b.clientWidth, getComputedStyle(b).overflowX])"
        )
        assert boxes and any(wide for wide, _ in boxes) and all(overflow == "auto" for _, overflow in boxes)
    finally:
        await page.context.close()
