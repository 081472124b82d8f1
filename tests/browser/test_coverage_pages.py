"""Coverage, stress and what-if pages in Chromium, on the demo book.

Every figure the pages show is checked against the JSON API on the same server (read with the page's
session), so the assertions follow the book rather than numbers written down here."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def amount(text: str) -> str:
    """The pages' amount format: the service's decimal string with thousands separators."""
    return f"{Decimal(text):,}"


async def api_get(page: Page, url: str) -> Any:
    response = await page.request.get(url)
    assert response.ok, await response.text()
    return await response.json()


async def api_post(page: Page, url: str, body: dict[str, Any], status: int = 200) -> Any:
    response = await page.request.post(url, data=body)
    assert response.status == status, await response.text()
    return await response.json()


async def chart_data(page: Page, canvas_id: str) -> dict[str, Any] | None:
    """What Chart.js holds for the canvas: labels and each dataset's label and numbers (None: not drawn)."""
    return await page.evaluate(
        """(id) => {
            const chart = window.Chart && Chart.getChart(document.getElementById(id));
            return chart ? {labels: chart.data.labels,
                            datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data}))} : null;
        }""",
        canvas_id,
    )


async def test_summary_shows_the_totals_and_draws_each_currency_chart(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Coverage").click()
    await expect(page).to_have_url(re.compile(r"/coverage$"))
    summary = await api_get(page, "/api/coverage/summary")
    assert summary["portfolio"], "the demo book has live loans"

    for totals in summary["portfolio"]:
        row = page.get_by_test_id("portfolio").locator(f'tr[data-currency="{totals["currency"]}"]')
        await expect(row.locator('[data-field="loans"]')).to_have_text(str(totals["loans"]))
        for field in ("exposure", "collateral_value", "covered", "uncovered"):
            await expect(row.locator(f'[data-field="{field}"]')).to_have_text(amount(totals[field]))
        await expect(row.locator('[data-field="breaches"]')).to_have_text(str(totals["breaches"]))
        flags = page.get_by_test_id("portfolio-flags").locator(f'tr[data-currency="{totals["currency"]}"]')
        for flag in (name for name in totals if name.startswith("loans_")):
            await expect(flags.locator(f'[data-field="{flag}"]')).to_have_text(str(totals[flag]))

    assert summary["asset_kinds"], "the demo's loans stand on collateral"
    kinds = page.get_by_test_id("asset-kinds")
    await expect(kinds.locator("tbody tr")).to_have_count(len(summary["asset_kinds"]))
    for k in summary["asset_kinds"]:
        row = kinds.locator(f'tr[data-kind="{k["kind"]}"][data-currency="{k["currency"]}"]')
        await expect(row.locator('[data-field="collateral_value"]')).to_have_text(amount(k["collateral_value"]))
        await expect(row.locator('[data-field="assets"]')).to_have_text(str(k["assets"]))

    currencies = sorted({b["currency"] for b in summary["ltv_buckets"]})
    assert currencies, "every currency of the book has its buckets"
    for currency in currencies:
        buckets = [b for b in summary["ltv_buckets"] if b["currency"] == currency]
        section = page.get_by_test_id(f"buckets-{currency}")
        # The table: one row per bucket, in the service's order, with its loans and exposure.
        await expect(section.locator("tbody tr")).to_have_count(len(buckets))
        for b in buckets:
            row = section.locator(f'tr[data-bucket="{b["ltv_bucket"]}"]')
            await expect(row.locator('[data-field="loans"]')).to_have_text(str(b["loans"]))
            await expect(row.locator('[data-field="exposure"]')).to_have_text(amount(b["exposure"]))
        # The chart: drawn by Chart.js from the same numbers.
        await expect(section.locator("canvas")).to_be_visible()
        drawn = await chart_data(page, f"ltv-chart-{currency}")
        assert drawn is not None, f"no chart drawn for {currency}"
        assert drawn["labels"] == [b["ltv_bucket"] for b in buckets]
        assert len(drawn["datasets"]) == 1
        assert drawn["datasets"][0]["data"] == [float(b["exposure"]) for b in buckets]
        table_values = await section.locator('tbody [data-field="exposure"]').evaluate_all(
            "cells => cells.map(c => Number(c.dataset.value))"
        )
        assert table_values == drawn["datasets"][0]["data"]

    await page.get_by_test_id("loans-link").click()
    await expect(page).to_have_url(re.compile(r"/coverage/loans\?as_of="))
    loans = await api_get(page, "/api/coverage/loans?page_size=1")
    await expect(page.get_by_test_id("total")).to_have_text(str(loans["total"]))


async def test_a_loan_page_explains_its_figures_lien_by_lien(page: Page) -> None:
    await sign_in(page, "auditor")
    first_page = await api_get(page, "/api/coverage/loans?page_size=50")
    loan = next(item for item in first_page["items"] if Decimal(item["collateral_value"]) > 0)
    detail = await api_get(page, f"/api/coverage/loans/{loan['loan_id']}")
    assert detail["contributions"]

    await page.goto("/coverage/loans")
    await page.get_by_test_id("coverage-loans").get_by_role("link", name=loan["loan_id"], exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/coverage/loans/{loan['loan_id']}\?"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(loan["loan_id"])
    figures = page.get_by_test_id("loan-figures")
    for field in ("exposure", "collateral_value", "uncovered"):
        await expect(figures.locator(f'[data-field="{field}"]')).to_have_text(
            f"{amount(loan[field])} {loan['currency']}"
        )
    await expect(page.get_by_role("heading", level=1).locator('[data-flag="breach"]')).to_have_count(
        1 if loan["breach"] else 0
    )

    table = page.get_by_test_id("contributions")
    await expect(table.locator("tr[data-lien]")).to_have_count(len(detail["contributions"]))
    for c in detail["contributions"]:
        row = table.locator(f'tr[data-lien="{c["lien_id"]}"][data-asset="{c["asset_id"]}"]')
        share = f"{amount(c['loan_share'])} {loan['currency']}"
        await expect(row.locator('[data-field="loan_share"]')).to_have_text(share)
        await expect(row.locator('[data-field="lien_claim"]')).to_have_text(amount(c["lien_claim"]))
        why = page.get_by_test_id(f"why-{c['lien_id']}-{c['asset_id']}")
        unit = c["value_currency"] or loan["currency"]
        await expect(why).to_contain_text(f"{amount(c['asset_value_after_haircut'])} {unit}")
        await expect(why).to_contain_text(f"earlier ranks took {amount(c['prior_ranks_took'])}")
        await expect(why).to_contain_text(f"lien {c['lien_id']}")
        await expect(why).to_contain_text(f"this loan's share of it is {amount(c['loan_share'])}")
        if Decimal(c["lien_share"]) >= Decimal(c["lien_claim"]) > 0:
            await expect(why).to_contain_text("was met in full")
        else:
            await expect(why).not_to_contain_text("was met in full")
    shares = sum(Decimal(c["loan_share"]) for c in detail["contributions"])
    assert abs(shares - Decimal(loan["collateral_value"])) <= Decimal("0.01") * len(detail["contributions"])


async def test_an_unknown_loan_is_a_404_page(page: Page) -> None:
    await sign_in(page, "auditor")
    response = await page.goto("/coverage/loans/NO-SUCH-LOAN")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("NO-SUCH-LOAN")


async def test_stress_on_real_estate_lowers_collateral_and_lists_the_changed_loans(page: Page) -> None:
    await sign_in(page, "asset_manager")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Stress").click()
    await expect(page).to_have_url(re.compile(r"/coverage/stress$"))
    await page.get_by_label("Kind (kind shock 1)", exact=True).select_option("real_estate")
    await page.get_by_label("Change % (kind shock 1)", exact=True).fill("-60")
    await page.get_by_role("button", name="Run the scenario").click()
    results = page.get_by_test_id("stress-results")
    await expect(results).to_be_visible()
    report = await api_post(
        page, "/api/coverage/stress?page_size=25", {"by_kind": [{"kind": "real_estate", "change_pct": "-60"}]}
    )
    assert report["loans_changed"] > 0

    fell = 0
    for side in report["portfolio"]:
        group = page.get_by_test_id("stress-portfolio").locator(f'tbody[data-currency="{side["currency"]}"]')
        base = Decimal(
            await group.locator('tr[data-side="base"] [data-field="collateral_value"]').get_attribute("data-value")
            or ""
        )
        stressed = Decimal(
            await group.locator('tr[data-side="stressed"] [data-field="collateral_value"]').get_attribute("data-value")
            or ""
        )
        assert (base, stressed) == (
            Decimal(side["base"]["collateral_value"]),
            Decimal(side["stressed"]["collateral_value"]),
        )
        assert stressed <= base
        fell += stressed < base
    assert fell, "a 60% fall in real estate values lowers some currency's collateral"

    await expect(page.get_by_test_id("loans-changed")).to_have_text(str(report["loans_changed"]))
    await expect(page.get_by_test_id("breaches-appearing")).to_have_text(str(report["breaches_appearing"]))
    rows = page.get_by_test_id("changed-loans").locator("tbody tr")
    await expect(rows).to_have_count(len(report["changed_loans"]))
    listed = await rows.evaluate_all("rows => rows.map(r => r.dataset.ref)")
    assert listed == [loan["loan_id"] for loan in report["changed_loans"]]
    appearing = [loan["loan_id"] for loan in report["changed_loans"] if loan["breach_change"] == "appears"]
    await expect(page.locator('[data-testid="changed-loans"] tr.breach-appears')).to_have_count(len(appearing))
    for ref in appearing:
        await expect(page.get_by_test_id("changed-loans").locator(f'tr[data-ref="{ref}"]')).to_contain_text(
            "Breach appears"
        )

    buckets = [b for b in report["ltv_buckets"] if b["currency"] == report["portfolio"][0]["currency"]]
    drawn = await chart_data(page, f"stress-chart-{buckets[0]['currency']}")
    assert drawn is not None
    assert [d["label"] for d in drawn["datasets"]] == ["Base", "Stressed"]
    assert drawn["datasets"][0]["data"] == [float(b["base"]["exposure"]) for b in buckets]
    assert drawn["datasets"][1]["data"] == [float(b["stressed"]["exposure"]) for b in buckets]

    # The changed loans are paged by re-posting the scenario.
    assert report["loans_changed"] > len(report["changed_loans"]), "the demo's -60% changes more than a page"
    second = await api_post(
        page, "/api/coverage/stress?page=2&page_size=25", {"by_kind": [{"kind": "real_estate", "change_pct": "-60"}]}
    )
    await page.get_by_role("navigation", name="Changed loan pages").get_by_role("button", name="Next →").click()
    await expect(page.get_by_test_id("changed-pager-status")).to_contain_text("Page 2 of")
    await expect(rows).to_have_count(len(second["changed_loans"]))
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.ref)") == [
        loan["loan_id"] for loan in second["changed_loans"]
    ]

    first = second["changed_loans"][0]
    await rows.first.get_by_role("link", name=first["loan_id"]).click()
    await expect(page).to_have_url(re.compile(rf"/coverage/loans/{first['loan_id']}\?"))
    await expect(page.get_by_test_id("loan-figures").locator('[data-field="collateral_value"]')).to_have_text(
        f"{amount(first['base']['collateral_value'])} {first['currency']}"
    )


async def test_a_shock_below_minus_100_percent_is_shown_beside_its_field(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.goto("/coverage/stress")
    await page.get_by_label("Kind (kind shock 2)", exact=True).select_option("real_estate")
    pct = page.get_by_label("Change % (kind shock 2)", exact=True)
    await pct.fill("-150")
    async with page.expect_response(lambda r: r.request.method == "POST" and "/coverage/stress" in r.url) as posted:
        await page.get_by_role("button", name="Run the scenario").click()
    assert (await posted.value).status == 422
    refused = await api_post(
        page, "/api/coverage/stress", {"by_kind": [{"kind": "real_estate", "change_pct": "-150"}]}, status=422
    )
    reason = refused["errors"][0]["reason"]
    await expect(page.get_by_test_id("form-errors")).to_be_visible()
    pct = page.get_by_label("Change % (kind shock 2)", exact=True)
    await expect(pct).to_have_value("-150")
    await expect(pct).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#by_kind-1-change_pct-error")).to_have_text(reason)
    await expect(page.get_by_label("Kind (kind shock 2)", exact=True)).to_have_value("real_estate")
    await expect(page.get_by_test_id("stress-results")).to_have_count(0)


async def test_what_if_releasing_a_lien_shows_the_loan_before_and_after(page: Page) -> None:
    await sign_in(page, "credit_officer")
    first_page = await api_get(page, "/api/coverage/loans?page_size=50")
    loan = next(item for item in first_page["items"] if Decimal(item["collateral_value"]) > 0)
    detail = await api_get(page, f"/api/coverage/loans/{loan['loan_id']}")
    lien = next(c["lien_id"] for c in detail["contributions"] if Decimal(c["loan_share"]) > 0)
    report = await api_post(page, "/api/coverage/what-if", {"changes": [{"type": "release_lien", "lien_id": lien}]})

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="What-if").click()
    await page.get_by_label("Change 1", exact=True).select_option("release_lien")
    await expect(page.get_by_label("Loan (change 1)", exact=True)).to_be_hidden()  # only the fields the type needs
    await page.get_by_label("Lien (change 1)", exact=True).fill(lien)
    await page.get_by_role("button", name="Compare before and after").click()
    await expect(page.get_by_test_id("whatif-results")).to_be_visible()

    table = page.get_by_test_id("whatif-loans")
    await expect(table.locator("tbody tr")).to_have_count(len(report["loans"]))
    for item in report["loans"]:
        row = table.locator(f'tr[data-ref="{item["loan_id"]}"]')
        await expect(row).to_have_attribute("data-touched", "true" if item["touched"] else "false")
        cell = row.locator('[data-field="collateral_value"]')
        if item["before"]:
            await expect(cell.locator(".before")).to_have_text(amount(item["before"]["collateral_value"]))
        if item["after"]:
            await expect(cell.locator(".after")).to_contain_text(amount(item["after"]["collateral_value"]))
    mine = next(item for item in report["loans"] if item["loan_id"] == loan["loan_id"])
    assert mine["touched"]
    assert Decimal(mine["after"]["collateral_value"]) < Decimal(mine["before"]["collateral_value"])
    await expect(table.locator(f'tr[data-ref="{loan["loan_id"]}"]')).to_contain_text("Changed")
    await expect(page.get_by_label("Lien (change 1)", exact=True)).to_have_value(lien)


async def test_what_if_with_an_unknown_lien_shows_the_error_on_its_change(page: Page) -> None:
    await sign_in(page, "admin")
    await page.goto("/coverage/what-if")
    await page.get_by_label("Change 2", exact=True).select_option("release_lien")
    await page.get_by_label("Lien (change 2)", exact=True).fill("NO-SUCH-LIEN")
    async with page.expect_response(lambda r: r.request.method == "POST" and "/coverage/what-if" in r.url) as posted:
        await page.get_by_role("button", name="Compare before and after").click()
    assert (await posted.value).status == 422
    refused = await api_post(
        page, "/api/coverage/what-if", {"changes": [{"type": "release_lien", "lien_id": "NO-SUCH-LIEN"}]}, status=422
    )
    reason = refused["errors"][0]["reason"]
    # The service numbers the changes it was given; the page puts the error on the row it came from.
    await expect(page.get_by_test_id("change-1").locator(".field-error")).to_have_text(reason)
    await expect(page.get_by_test_id("change-0").locator(".field-error")).to_have_count(0)
    await expect(page.get_by_label("Lien (change 2)", exact=True)).to_have_value("NO-SUCH-LIEN")
    await expect(page.get_by_test_id("whatif-results")).to_have_count(0)


async def test_a_reader_sees_coverage_but_not_the_scenario_pages(page: Page) -> None:
    await sign_in(page, "auditor")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Coverage")).to_be_visible()
    await expect(nav.get_by_role("link", name="Stress")).to_have_count(0)
    await expect(nav.get_by_role("link", name="What-if")).to_have_count(0)
    response = await page.goto("/coverage/stress")
    assert response is not None and response.status == 403
