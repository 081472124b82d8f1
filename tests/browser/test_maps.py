"""Maps in Chromium on the demo book, offline: every request that leaves the server is refused and recorded.

The asset page frames an overlapping pair with its neighbours; the parcel map draws every parcel with the overlap
in red and opens an asset from it; the stress form takes a region drawn by clicks on the map and runs it. Each at
1366 and 390 px, with nothing running off the page. Screenshots go to /tmp/shots-maps/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

WIDTHS = (1366, 390)
SHOTS = Path("/tmp/shots-maps")
RED = "rgb(183, 28, 28)"  # FLAGGED.color in parcel-maps.js


async def offline(page: Page, server_url: str) -> list[str]:
    """Refuse every request outside the server; the list of those refused, for the test to assert empty."""
    outside: list[str] = []

    async def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server_url):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_server)
    return outside


async def fits(page: Page) -> None:
    wide = await page.evaluate(
        """() => document.documentElement.scrollWidth <= innerWidth ? [] :
             [...document.querySelectorAll('main *')].filter(e => !e.closest('.leaflet-container, .table-scroll')
                 && e.getBoundingClientRect().right > innerWidth + 0.5)
               .slice(0, 5).map(e => e.tagName + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert wide == [], f"runs off the page: {wide}"


async def shot(page: Page, name: str) -> None:
    # Playwright makes the folder.
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def demo_overlap(page: Page) -> tuple[str, str]:
    listed = await page.request.get("/api/registry/overlaps?page_size=100")
    assert listed.ok, await listed.text()
    pairs = [(o["asset_a"]["ref"], o["asset_b"]["ref"]) for o in (await listed.json())["items"]]
    assert pairs, "the demo book has two overlapping parcels"
    return next((p for p in pairs if not any(r.startswith("BT-") for r in p)), pairs[0])


@pytest.mark.parametrize("width", WIDTHS)
async def test_asset_drawing_frames_the_overlap_and_its_neighbours(page: Page, server_url: str, width: int) -> None:
    outside = await offline(page, server_url)
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "auditor")
    a, b = await demo_overlap(page)
    await page.goto(f"/assets/{a}")
    drawing = page.get_by_test_id("parcel-map")
    await expect(drawing.locator(f'path.parcel-subject[data-ref="{a}"]')).to_be_visible()
    await expect(drawing.locator(f'path.parcel-overlap[data-ref="{b}"]')).to_be_visible()
    # Every parcel drawn lies inside the drawing's box: none is cut off at the edge.
    frame, parcels = await drawing.evaluate(
        """svg => [svg.getBoundingClientRect().toJSON(),
                   [...svg.querySelectorAll('path.parcel')].map(p => p.getBoundingClientRect().toJSON())]"""
    )
    assert len(parcels) >= 3, "the pair and at least one neighbour are drawn"
    for box in parcels:
        assert frame["left"] - 0.5 <= box["left"] and box["right"] <= frame["right"] + 0.5, (frame, box)
        assert frame["top"] - 0.5 <= box["top"] and box["bottom"] <= frame["bottom"] + 0.5, (frame, box)
    await fits(page)
    await drawing.scroll_into_view_if_needed()
    await shot(page, f"asset-{width}")
    assert outside == []


@pytest.mark.parametrize("width", WIDTHS)
async def test_parcel_map_draws_every_parcel_with_the_overlap_red(page: Page, server_url: str, width: int) -> None:
    outside = await offline(page, server_url)
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "credit_officer")
    a, b = await demo_overlap(page)

    await page.goto("/parcels/map")
    the_map = page.get_by_test_id("portfolio-map")
    await expect(the_map).to_have_attribute("data-loaded", re.compile(r"^[1-9]\d*$"))
    total = (await (await page.request.get("/api/assets?page_size=1")).json())["total"]
    drawn = int(await the_map.get_attribute("data-loaded") or 0)
    assert drawn > 20, "the whole book's parcels are drawn"
    assert drawn <= total
    await expect(page.get_by_test_id("map-status")).to_contain_text(f"Showing all {drawn:,} parcels in view")
    for ref in (a, b):
        parcel = the_map.locator(f'path.map-parcel-flagged[data-ref="{ref}"]')
        await expect(parcel).to_be_attached()
        assert await parcel.evaluate("p => getComputedStyle(p).stroke") == RED
    assert (
        await the_map.locator("path.map-parcel:not(.map-parcel-flagged)").count()
        == drawn - await the_map.locator("path.map-parcel-flagged").count()
    )
    assert await the_map.locator("img.leaflet-tile").count() == 0, "no tiles unless a tile URL is configured"
    await fits(page)
    await shot(page, f"portfolio-{width}")
    # "Go to" one city: the view, and so the parcels fetched for it, narrow to that city's.
    await page.get_by_label("Go to").select_option("shanghai-all")
    await expect(the_map).not_to_have_attribute("data-loaded", str(drawn))
    in_city = int(await the_map.get_attribute("data-loaded") or 0)
    assert 0 < in_city < drawn
    await expect(page.get_by_test_id("map-status")).to_contain_text(f"Showing all {in_city:,} parcels in view")
    await shot(page, f"portfolio-shanghai-{width}")

    # From the asset page to the map framed on it, and from the red parcel back to the other asset.
    await page.goto(f"/assets/{a}")
    await page.get_by_test_id("on-parcel-map").click()
    await expect(page).to_have_url(re.compile(rf"/parcels/map\?ref={re.escape(a)}$"))
    other = page.get_by_test_id("portfolio-map").locator(f'path.map-parcel-flagged[data-ref="{b}"]')
    await expect(other).to_be_visible()
    await expect(page.get_by_test_id("portfolio-map").locator(f'path.map-parcel-focus[data-ref="{a}"]')).to_be_visible()
    await expect(page.locator(".map-focus-label")).to_have_text(a)
    await fits(page)
    await shot(page, f"portfolio-focus-{width}")
    box = await other.bounding_box()
    assert box and box["width"] > 4, "framed close enough to select the parcel"
    # Click where only the other parcel is: its corner away from the shared ground.
    own = await page.get_by_test_id("portfolio-map").locator(f'path[data-ref="{a}"]').bounding_box()
    assert own
    x = box["x"] + box["width"] - 3 if box["x"] > own["x"] else box["x"] + 3
    y = box["y"] + box["height"] - 3 if box["y"] > own["y"] else box["y"] + 3
    await page.mouse.click(x, y)
    link = page.locator(".map-popup a")
    await expect(link).to_have_text(f"Open asset {b}")
    await expect(page.locator(".map-popup")).to_contain_text("Possible double pledge")
    await shot(page, f"portfolio-popup-{width}")
    await link.click()
    await expect(page).to_have_url(re.compile(rf"/assets/{re.escape(b)}$"))
    assert outside == []


@pytest.mark.parametrize("width", WIDTHS)
async def test_stress_region_drawn_by_clicks_runs_the_scenario(page: Page, server_url: str, width: int) -> None:
    outside = await offline(page, server_url)
    await page.set_viewport_size({"width": width, "height": 900})
    await sign_in(page, "asset_manager")
    await page.goto("/coverage/stress")
    region_map = page.get_by_test_id("region-map-0")
    await expect(region_map).to_be_visible()
    await expect(region_map).to_have_attribute("data-loaded", re.compile(r"^[1-9]\d*$"))
    # Frame one city: a saved region zooms the map to it; then draw a square over most of it instead.
    await page.get_by_label("Saved region (region shock 1)").select_option("shanghai-all")
    geojson = page.get_by_label("Region GeoJSON (region shock 1)")
    assert '"Polygon"' in await geojson.input_value()
    await page.get_by_role("button", name="Draw on the map (region shock 1)").click()
    await region_map.scroll_into_view_if_needed()
    box = await region_map.bounding_box()
    assert box
    for fx, fy in ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)):
        await page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    await expect(region_map.locator("path.map-sketch")).to_be_attached()
    await page.get_by_role("button", name="Finish the region (region shock 1)").click()
    await expect(page.get_by_test_id("region-map-0").locator("path.map-region")).to_be_attached()
    drawn = await geojson.input_value()
    assert drawn.startswith('{"type":"Polygon","coordinates":[[[') and drawn.count("],[") == 4  # 4 corners, closed
    assert await page.get_by_label("Saved region (region shock 1)").input_value() == ""
    await fits(page)
    await shot(page, f"stress-drawn-{width}")

    # With a kind shock too, many loans change: the wide results tables scroll in their own boxes at 390 px.
    await page.get_by_label("Kind (kind shock 1)", exact=True).select_option("real_estate")
    await page.get_by_label("Change % (kind shock 1)", exact=True).fill("-30")
    await page.get_by_label("Change % (region shock 1)", exact=True).fill("-25")
    await page.get_by_label("Label (region shock 1)", exact=True).fill("Drawn")
    await page.get_by_role("button", name="Run the scenario").click()
    results = page.get_by_test_id("stress-results")
    await expect(results).to_be_visible()
    applied = page.get_by_test_id("shocks-applied")
    await expect(applied).to_contain_text("\u00d7 0.75")  # values times 0.75
    text = await applied.inner_text()
    found = re.search(r"\((\d+) assets?\)", text)
    assert found and int(found.group(1)) > 0, text
    # The form comes back with the region, drawn again on the map.
    assert await page.get_by_label("Region GeoJSON (region shock 1)").input_value() == drawn
    await expect(page.get_by_test_id("region-map-0").locator("path.map-region")).to_be_attached()
    await fits(page)
    await shot(page, f"stress-results-{width}")
    assert outside == []
