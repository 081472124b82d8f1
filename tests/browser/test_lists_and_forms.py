"""The list pages and the pages with forms in Chromium against the demo book, at a laptop's width and a phone's:
nothing runs off the page at 390 px, the header folds behind "Menu" there, lists filter, sort and download, and a
long action's button is disabled while it runs. Screenshots go to /tmp/shots-lists/ for a person to look at."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.async_api import Page, Request, Route, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
NARROW = 390
SHOTS = Path("/tmp/shots-lists")
LIST_PAGES = (
    "/assets",
    "/coverage",
    "/coverage/loans",
    "/coverage/loans?sort=-ltv&currency=CNY",
    "/worklist",
    "/valuations",
    "/disposals",
    "/audit",
    "/overlaps",
)
FORM_PAGES = ("/coverage/stress", "/coverage/what-if")
OTHER_PAGES = ("/home", "/search?q=CUST-00", "/disposals/metrics", "/public/auctions", "/audit/verify")


def shot_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"


async def fits(page: Page) -> None:
    scroll, inner = await page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    wide = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.table-scroll'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + (e.dataset.testid || ''))"""
    )
    assert scroll <= inner, f"{page.url} is {scroll} px wide at {inner} px: {wide}"


async def api(page: Page, path: str) -> Any:
    response = await page.request.get(path)
    assert response.ok, f"{path}: {response.status}"
    return await response.json()


async def press_twice(page: Page, label: str) -> None:
    """Press a submit button, then, 50 ms later while the answer is on its way, note what the button shows and
    send the form again. Chromium runs no script of ours in a page that is navigating away, so the page keeps
    the note in sessionStorage, which outlives the navigation (see `in_flight`)."""
    await page.evaluate(
        """label => {
            const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === label);
            const form = button.form;
            setTimeout(() => {
                button.click();
                setTimeout(() => {
                    const seen = {disabled: button.disabled, text: button.textContent.trim()};
                    seen.busy = form.getAttribute('aria-busy');
                    sessionStorage.setItem('in-flight', JSON.stringify(seen));
                    form.requestSubmit();
                }, 50);
            }, 0);
        }""",
        label,
    )


async def in_flight(page: Page) -> dict[str, Any]:
    seen = await page.evaluate("sessionStorage.getItem('in-flight')")
    assert seen, "the page noted nothing while the form was in flight"
    return dict(json.loads(seen))


@pytest.mark.parametrize("width", WIDTHS)
async def test_every_list_and_form_page_fits_the_screen(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "admin")
    loan = (await api(page, "/api/loans?page_size=1"))["items"][0]["ref"]
    lien = (await api(page, "/api/liens?status=registered&page_size=1"))["items"][0]["ref"]
    covered = (await api(page, "/api/coverage/loans?page_size=1"))["items"][0]
    records = (
        f"/loans/{loan}",
        f"/liens/{lien}",
        f"/coverage/loans/{covered['loan_id']}",
        f"/parties/{covered['borrower_id']}",
    )
    for path in (*LIST_PAGES, *FORM_PAGES, *records, *OTHER_PAGES):
        response = await page.goto(path)
        assert response is not None and response.ok, path
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        if width == NARROW:
            await fits(page)
        await page.screenshot(path=str(SHOTS / f"{shot_name(path)}-{width}.png"), full_page=True)


async def test_the_disposal_forms_fit_a_phone(page: Page) -> None:
    await page.set_viewport_size({"width": NARROW, "height": 900})
    await sign_in(page, "disposal_officer")
    for path in ("/disposals/new", "/disposals/DC-2026-002", "/disposals/DC-2026-002/waterfall"):
        response = await page.goto(path)
        assert response is not None and response.ok, path
        await fits(page)
        await page.screenshot(path=str(SHOTS / f"{shot_name(path)}-{NARROW}.png"), full_page=True)


async def test_the_header_folds_behind_menu_on_a_phone(page: Page) -> None:
    await page.set_viewport_size({"width": NARROW, "height": 844})
    await sign_in(page, "asset_manager")
    await page.goto("/worklist")
    nav = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_be_visible()
    await expect(menu).to_have_attribute("aria-expanded", "false")
    await expect(nav).to_be_hidden()
    # The search box stays in view without opening the menu.
    await expect(page.get_by_role("searchbox", name="Find a record")).to_be_visible()
    await menu.click()
    await expect(menu).to_have_attribute("aria-expanded", "true")
    await expect(nav.get_by_role("link", name="Coverage")).to_be_visible()
    await expect(page.get_by_test_id("signed-in-as")).to_be_visible()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await fits(page)
    await page.screenshot(path=str(SHOTS / "menu-open-390.png"), full_page=True)
    await nav.get_by_role("link", name="Coverage").click()
    await expect(page).to_have_url(re.compile(r"/coverage$"))
    # At a laptop's width there is no Menu button: the navigation is simply there.
    await page.set_viewport_size({"width": 1366, "height": 900})
    await expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    await expect(nav.get_by_role("link", name="Worklist")).to_be_visible()


async def test_loans_filter_sort_and_download_from_the_page(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.goto("/coverage/loans")
    await page.get_by_label("Currency").fill("CNY")
    await page.get_by_label("Sort by").select_option("-exposure")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(r"currency=CNY.*sort=-exposure"))
    table = page.get_by_test_id("coverage-loans")
    amounts = await table.locator('td[data-field="exposure"]').all_inner_texts()
    values = [float(a.replace(",", "")) for a in amounts]
    assert values and values == sorted(values, reverse=True)
    # The column heading turns the order round.
    await table.locator('a[data-sort="exposure"]').click()
    await expect(page).to_have_url(re.compile(r"sort=exposure"))
    amounts = await page.get_by_test_id("coverage-loans").locator('td[data-field="exposure"]').all_inner_texts()
    values = [float(a.replace(",", "")) for a in amounts]
    assert values == sorted(values)
    async with page.expect_download() as download:
        await page.get_by_test_id("csv-link").click()
    saved = await (await download.value).path()
    text = await asyncio.to_thread(Path(saved).read_text)
    header, *rows = text.splitlines()
    assert header.startswith("loan_id,borrower_id,currency,exposure")
    assert rows and all(",CNY," in row for row in rows)


async def test_a_long_action_cannot_be_sent_twice(page: Page) -> None:
    await sign_in(page, "credit_officer")
    await page.goto("/coverage/stress")
    posts: list[Request] = []

    async def slow(route: Route) -> None:
        if route.request.method == "POST":
            posts.append(route.request)
            await asyncio.sleep(2)
        await route.continue_()

    await page.route("**/coverage/stress", slow)
    await page.get_by_label("Kind (kind shock 1)", exact=True).select_option("real_estate")
    await page.get_by_label("Change % (kind shock 1)", exact=True).fill("-10")
    await press_twice(page, "Run the scenario")
    await expect(page.get_by_test_id("stress-results")).to_be_visible(timeout=30_000)
    assert await in_flight(page) == {"disabled": True, "text": "Working…", "busy": "true"}
    assert len(posts) == 1  # the second press sent nothing
    await expect(page.get_by_role("button", name="Run the scenario")).to_be_enabled()


async def test_a_new_coverage_date_shows_progress(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.goto("/coverage")

    sent: list[str] = []

    async def slow(route: Route) -> None:
        sent.append(route.request.url)
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route(re.compile(r".*/coverage\?as_of=.*"), slow)
    await page.get_by_label("As of").fill("2026-01-31")
    await press_twice(page, "Show")
    await expect(page).to_have_url(re.compile(r"as_of=2026-01-31"))
    await expect(page.get_by_role("button", name="Show")).to_be_enabled()
    assert await in_flight(page) == {"disabled": True, "text": "Working…", "busy": "true"}
    assert len(sent) == 1


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_new_coverage_date_keeps_the_loan_filters(page: Page, width: int) -> None:
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "credit_officer")
    borrower = (await api(page, "/api/coverage/loans?page_size=1"))["items"][0]["borrower_id"]
    await page.goto("/coverage/loans")
    filters = page.get_by_test_id("loan-filters")
    await filters.get_by_label("Borrower ref").fill(borrower)
    await filters.get_by_label("Sort by").select_option("-exposure")
    await filters.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(re.compile(rf"borrower={re.escape(borrower)}.*sort=-exposure"))
    # A day earlier, from the date form: the borrower and the order are still what the list shows.
    earlier = (date.fromisoformat(await page.get_by_label("As of").input_value()) - timedelta(days=1)).isoformat()
    await page.get_by_label("As of").fill(earlier)
    await page.get_by_test_id("coverage-filters").get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(rf"as_of={earlier}"))
    sent = dict(parse_qsl(urlsplit(page.url).query))
    assert (sent["borrower"], sent["sort"]) == (borrower, "-exposure")
    await expect(page.get_by_label("As of")).to_have_value(earlier)
    await expect(filters.get_by_label("Borrower ref")).to_have_value(borrower)
    await expect(filters.get_by_label("Sort by")).to_have_value("-exposure")
    table = page.get_by_test_id("coverage-loans")
    borrowers = await table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert borrowers and set(borrowers) == {borrower}
    await expect(table.locator('th[aria-sort="descending"] a[data-sort="exposure"]')).to_be_visible()
    if width == NARROW:
        await fits(page)
    await page.screenshot(path=str(SHOTS / f"coverage-date-keeps-filters-{width}.png"), full_page=True)
