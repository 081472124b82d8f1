"""The record pages in Chromium against the demo book: a loan, a borrower, a lien, the audit log and search, each
at a laptop's width and at a phone's (390 px), where nothing may run off the page; and each role's main task on
them: a credit officer's posting, an asset manager's registration move, an auditor's chain check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
NARROW = 390


async def api(page: Page, path: str) -> Any:
    response = await page.request.get(path)
    assert response.ok, f"{path}: {response.status}"
    return await response.json()


async def fits(page: Page, width: int) -> None:
    if width == NARROW:
        scroll = await page.evaluate("document.documentElement.scrollWidth")
        inner = await page.evaluate("innerWidth")
        assert scroll <= inner, f"{page.url} is {scroll} px wide at {inner} px"


async def records(page: Page) -> dict[str, str]:
    """A registered lien of the demo book, a loan it secures, that loan's borrower and a submitted lien."""
    for lien in (await api(page, "/api/liens?status=registered&holder=own&page_size=50"))["items"]:
        loan = await api(page, f"/api/loans/{lien['loan_refs'][0]}")
        if loan["status"] not in ("settled", "written_off"):  # a live loan: its borrower has a group exposure
            break
    else:
        pytest.fail("the demo book should have a live loan under a registered lien")
    submitted = (await api(page, "/api/liens?status=submitted&page_size=1"))["items"]
    return {
        "lien": lien["ref"],
        "asset": lien["asset_ref"],
        "loan": loan["ref"],
        "party": loan["borrower_ref"],
        "submitted": submitted[0]["ref"] if submitted else "",
    }


@pytest.mark.parametrize("width", WIDTHS)
async def test_each_record_page_opens_and_fits_the_screen(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "admin")
    refs = await records(page)
    await page.goto(f"/loans/{refs['loan']}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(refs["loan"])
    await expect(page.get_by_test_id("balance")).to_be_visible()
    await expect(page.get_by_test_id("loan-liens").locator(f'tr[data-ref="{refs["lien"]}"]')).to_be_visible()
    await fits(page, width)
    await page.goto(f"/parties/{refs['party']}")
    await expect(page.get_by_test_id("group-exposure")).to_be_visible()
    await expect(page.get_by_test_id("party-loans").locator(f'tr[data-ref="{refs["loan"]}"]')).to_be_visible()
    await fits(page, width)
    await page.goto(f"/liens/{refs['lien']}")
    await expect(page.get_by_test_id("workflow")).to_be_visible()
    await expect(page.get_by_test_id("move-released")).to_be_attached()
    await fits(page, width)
    await page.goto("/audit")
    await expect(page.locator("article.audit-event").first).to_be_visible()
    await fits(page, width)
    await page.goto(f"/search?q={refs['loan']}")
    await expect(page.get_by_test_id("hits-loans").locator(f'tr[data-ref="{refs["loan"]}"]')).to_be_visible()
    await fits(page, width)
    await page.goto(f"/assets/{refs['asset']}")
    await expect(page.get_by_test_id("liens").get_by_role("link", name=refs["lien"])).to_be_visible()
    await fits(page, width)


@pytest.mark.parametrize("width", WIDTHS)
async def test_header_search_box_leads_from_a_ref_to_its_page(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "credit_officer")
    refs = await records(page)
    box = page.get_by_role("searchbox", name="Find a record")
    await expect(box).to_be_visible()
    await box.fill(refs["party"])
    await box.press("Enter")
    await expect(page).to_have_url(re.compile(r"/search\?q="))
    await fits(page, width)
    await page.get_by_test_id("hits-parties").get_by_role("link", name=refs["party"]).click()
    await expect(page).to_have_url(re.compile(rf"/parties/{re.escape(refs['party'])}$"))
    await page.get_by_test_id("party-loans").get_by_role("link", name=refs["loan"]).click()
    await expect(page).to_have_url(re.compile(rf"/loans/{re.escape(refs['loan'])}$"))
    await fits(page, width)


async def test_credit_officer_posts_a_repayment_and_sees_a_refusal_in_place(page: Page) -> None:
    await page.set_viewport_size({"width": NARROW, "height": 900})
    await sign_in(page, "credit_officer")
    refs = await records(page)
    loan = await api(page, f"/api/loans/{refs['loan']}")
    await page.goto(f"/loans/{refs['loan']}")
    form = page.get_by_test_id("posting-form")
    await form.get_by_label("Kind of posting").select_option("repayment")
    too_much = f"{int(float(loan['balance']['principal'])) + 1_000_000:,}.00"
    await form.get_by_label(re.compile(r"^Principal")).fill(too_much)
    await form.get_by_role("button", name="Post").click()
    await expect(page.locator('.field-error[data-field="principal"]')).to_contain_text("more than the principal")
    await fits(page, NARROW)
    form = page.get_by_test_id("posting-form")
    await form.get_by_label(re.compile(r"^Principal")).fill("1,000.00")
    await form.get_by_role("button", name="Post").click()
    await expect(page.get_by_test_id("done")).to_have_text("Posting recorded on the ledger.")
    await expect(page.get_by_test_id("ledger").locator("tbody tr").first).to_have_attribute("data-kind", "repayment")


async def test_asset_manager_submits_a_draft_lien_with_its_button(page: Page) -> None:
    await sign_in(page, "asset_manager")
    drafts = (await api(page, "/api/liens?status=draft&page_size=1"))["items"]
    if not drafts:
        pytest.skip("the demo book has no draft lien")
    ref = drafts[0]["ref"]
    await page.goto(f"/liens/{ref}")
    await page.get_by_test_id("move-submitted").click()
    await expect(page.get_by_test_id("lien-status")).to_have_attribute("data-status", "submitted")
    await expect(page.get_by_test_id("done")).to_have_text("Lien submitted for registration.")
    await expect(page.locator('details[data-move="registered"] summary')).to_be_visible()


async def test_auditor_verifies_the_chain(page: Page) -> None:
    await page.set_viewport_size({"width": NARROW, "height": 900})
    await sign_in(page, "auditor")
    await page.goto("/audit")
    await page.get_by_test_id("verify-chain").click()
    await expect(page.get_by_test_id("chain-report")).to_have_attribute("data-ok", "true")
    await fits(page, NARROW)
