"""The parcel drawing and the overlaps list in Chromium, on the demo book plus one planted double pledge."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

PLANTED = "BT-DOUBLE-1"


async def plant_overlap(page: Page) -> str:
    """Draw a new land-use right over a demo parcel, through the JSON API as the signed-in asset manager.

    The overlap is made here, on a parcel outside the demo's own overlapping pair. Returns the demo asset's ref.
    """
    listed = await page.request.get("/api/assets?kind=real_estate&page_size=200")
    assert listed.ok, await listed.text()
    # The demo's own overlapping pair is left alone, so the planted overlap is the subject's only one.
    pairs = (await (await page.request.get("/api/registry/overlaps?page_size=100")).json())["items"]
    demo_pairs = [(o["asset_a"]["ref"], o["asset_b"]["ref"]) for o in pairs]
    paired = {ref for pair in demo_pairs if PLANTED not in pair for ref in pair}
    subject: dict[str, Any] = next(
        a for a in (await listed.json())["items"] if a["geometry"] and a["ref"] not in paired
    )
    existing = await page.request.get(f"/api/assets/{PLANTED}")
    if existing.ok:
        return subject["ref"]
    ring = subject["geometry"]["coordinates"][0]
    west, south = min(p[0] for p in ring), min(p[1] for p in ring)
    east, north = max(p[0] for p in ring), max(p[1] for p in ring)
    dx, dy = east - west, north - south
    w, e, s, n = west + dx * 0.5, east + dx * 0.5, south + dy * 0.25, north + dy * 0.25
    parties = await (await page.request.get("/api/parties?page_size=2")).json()
    other_owner = next(p["ref"] for p in parties["items"] if p["ref"] != subject["owner_ref"])
    created = await page.request.post(
        "/api/assets",
        data={
            "ref": PLANTED,
            "kind": "land_use_right",
            "owner_ref": other_owner,
            "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        },
    )
    assert created.status == 201, await created.text()
    return str(subject["ref"])


async def test_asset_page_draws_the_parcel_with_the_overlap_highlighted_and_the_list_links_back(page: Page) -> None:
    await sign_in(page, "asset_manager")
    ref = await plant_overlap(page)

    await page.goto(f"/assets/{ref}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(ref)
    await expect(page.get_by_test_id("double-pledge-flag")).to_have_text("Possible double pledge")
    drawing = page.get_by_test_id("parcel-map")
    await expect(drawing).to_be_visible()
    await expect(drawing.locator(f'path.parcel-subject[data-ref="{ref}"]')).to_be_visible()
    await expect(drawing.locator(f'path.parcel-overlap[data-ref="{PLANTED}"]')).to_be_visible()
    highlight = drawing.get_by_test_id("overlap-area")
    await expect(highlight).to_have_count(1)
    await expect(highlight).to_be_visible()
    box = await highlight.bounding_box()
    assert box is not None
    assert box["width"] > 5
    assert box["height"] > 5
    # The shared ground is painted in the warning colour, not the parcels' fill.
    fill = await highlight.evaluate("el => getComputedStyle(el).fill")
    assert fill == "rgb(166, 27, 27)"
    row = page.get_by_test_id("asset-overlaps").locator(f'tr[data-ref="{PLANTED}"]')
    await expect(row).to_contain_text("Land-use right")
    await expect(row).to_contain_text("37.50%")  # half the width, three quarters of the height, of each

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Overlaps").click()
    await expect(page).to_have_url(re.compile(r"/overlaps$"))
    await expect(page.get_by_role("heading", name="Parcel overlaps")).to_be_visible()
    pair = page.get_by_test_id("overlaps").locator("tbody tr").filter(has_text=PLANTED)
    await expect(pair).to_have_count(1)
    await expect(pair).to_contain_text(ref)
    await pair.get_by_role("link", name=PLANTED).click()
    await expect(page).to_have_url(re.compile(rf"/assets/{PLANTED}$"))
    await expect(page.get_by_test_id("parcel-map").locator(f'path.parcel-overlap[data-ref="{ref}"]')).to_be_visible()


async def test_rescan_from_the_overlaps_page_keeps_the_flag(page: Page) -> None:
    await sign_in(page, "asset_manager")
    await plant_overlap(page)
    await page.goto("/overlaps")
    await page.get_by_role("button", name="Rescan the whole registry").click()
    await expect(page.get_by_test_id("rescan-report")).to_contain_text("Rescanned")
    await expect(page.get_by_test_id("overlaps").locator("tbody tr").filter(has_text=PLANTED)).to_have_count(1)


async def test_auditor_sees_the_list_without_the_rescan_button(page: Page) -> None:
    await sign_in(page, "auditor")
    await page.goto("/overlaps")
    await expect(page.get_by_role("heading", name="Parcel overlaps")).to_be_visible()
    await expect(page.get_by_role("button", name="Rescan the whole registry")).to_have_count(0)
