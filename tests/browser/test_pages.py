"""The pages in Chromium against the demo book: sign-in, the register with htmx, the asset page, roles."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

# Marks the window before an htmx interaction: a full page load would lose it.
SAME_DOCUMENT = "window.__sameDocument"
ROW_REFS = "rows => rows.map(r => r.dataset.ref)"


def register_rows(page: Page) -> Locator:
    return page.locator('[data-testid="asset-register"] tbody tr')


async def total(page: Page) -> int:
    return int(await page.get_by_test_id("total").inner_text())


async def mark_document(page: Page) -> None:
    await page.evaluate(f"{SAME_DOCUMENT} = true")


async def still_same_document(page: Page) -> bool:
    return bool(await page.evaluate(f"{SAME_DOCUMENT} === true"))


async def asset_with_ranked_liens(page: Page) -> str:
    """An asset of the demo book whose registered liens were perfected at two or more different times.

    Found through the JSON API; the request shares the signed-in browser context's cookie.
    """
    times: dict[str, set[str]] = defaultdict(set)
    for number in range(1, 50):
        response = await page.request.get(f"/api/liens?status=registered&page_size=200&page={number}")
        body = await response.json()
        for lien in body["items"]:
            times[lien["asset_ref"]].add(lien["perfected_at"])
        if number * body["page_size"] >= body["total"]:
            break
    candidates = sorted(ref for ref, perfected in times.items() if len(perfected) >= 2)
    assert candidates, "the demo book should have an asset with liens perfected at different times"
    return candidates[0]


async def test_signed_out_visitor_is_sent_to_login_and_back(page: Page) -> None:
    await page.goto("/assets")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fassets$"))
    await sign_in(page, "asset_manager")
    await expect(page).to_have_url(re.compile(r"/assets$"))


async def test_asset_manager_lands_on_the_register(page: Page) -> None:
    await sign_in(page, "asset_manager")
    await expect(page).to_have_url(re.compile(r"/assets$"))
    await expect(page.get_by_role("heading", name="Asset register")).to_be_visible()
    await expect(page.get_by_test_id("signed-in-as")).to_contain_text("asset_manager")
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Assets")).to_be_visible()
    rows = await register_rows(page).count()
    assert rows > 0
    assert await total(page) >= rows


async def test_search_narrows_the_register_without_reloading(page: Page) -> None:
    await sign_in(page, "asset_manager")
    everything = await total(page)
    target = await register_rows(page).nth(3).get_attribute("data-ref")
    assert target
    await mark_document(page)
    await page.get_by_label("Search").fill(target)
    await expect(page).to_have_url(re.compile(rf"/assets\?q={re.escape(target)}$"))
    await expect(page.get_by_test_id("total")).not_to_have_text(str(everything))
    assert 1 <= await total(page) < everything
    await expect(page.locator(f'tr[data-ref="{target}"]')).to_be_visible()
    assert await still_same_document(page), "the search reloaded the page instead of swapping the results"


async def test_kind_filter_shows_only_that_kind(page: Page) -> None:
    await sign_in(page, "asset_manager")
    everything = await total(page)
    await mark_document(page)
    await page.get_by_label("Kind").select_option("vehicle")
    await expect(page).to_have_url(re.compile(r"/assets\?kind=vehicle$"))
    await expect(page.get_by_test_id("total")).not_to_have_text(str(everything))
    kinds = await register_rows(page).evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds
    assert set(kinds) == {"vehicle"}
    assert await still_same_document(page)


async def test_next_page_shows_the_following_rows(page: Page) -> None:
    await sign_in(page, "asset_manager")
    first_page = await register_rows(page).evaluate_all(ROW_REFS)
    await expect(page.get_by_test_id("page-of")).to_contain_text("Page 1 of")
    await mark_document(page)
    await page.get_by_role("link", name="Next →").click()
    await expect(page).to_have_url(re.compile(r"/assets\?page=2$"))
    await expect(page.get_by_test_id("page-of")).to_contain_text("Page 2 of")
    second_page = await register_rows(page).evaluate_all(ROW_REFS)
    assert second_page
    assert not set(first_page) & set(second_page)
    assert max(first_page) < min(second_page), "the register is in ref order across pages"
    assert await still_same_document(page)
    await page.go_back()
    await expect(page.get_by_test_id("page-of")).to_contain_text("Page 1 of")


async def test_asset_page_lists_liens_in_rank_order(page: Page) -> None:
    await sign_in(page, "asset_manager")
    ref = await asset_with_ranked_liens(page)
    await page.get_by_label("Search").fill(ref)
    await page.locator(f'tr[data-ref="{ref}"]').get_by_role("link", name=ref, exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/assets/{re.escape(ref)}$"))
    await expect(page.get_by_role("heading", level=1)).to_contain_text(ref)
    liens = page.get_by_test_id("liens")
    await expect(liens).to_be_visible()
    ranks = await liens.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.rank)")
    ranked = [int(r) for r in ranks if r]
    assert len(set(ranked)) >= 2
    assert ranked[0] == 1
    assert ranked == sorted(ranked)
    # Liens that no longer rank come after every ranked one.
    assert all(r == "" for r in ranks[len(ranked) :])


async def test_bidder_has_no_register(page: Page) -> None:
    await sign_in(page, "bidder")
    await expect(page).to_have_url(re.compile(r"/public/auctions$"))
    await expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Auctions")).to_be_visible()
    await expect(page.get_by_role("link", name="Assets")).to_have_count(0)
    response = await page.goto("/assets")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


async def test_logout_returns_to_login(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto("/assets")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Fassets$"))


async def test_wrong_password_stays_on_the_form(page: Page) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill("asset_manager")
    await page.get_by_label("Password").fill("not-the-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    await expect(page.get_by_label("Username")).to_have_value("asset_manager")
