"""Maps on both engines: the parcels-in-a-box GeoJSON endpoint (roles, the box, the cap, flagged parcels first),
the portfolio map page, the asset page's drawing framing every parcel it draws, and stress regions picked from
the saved ones without script."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from registry.edge_settings import edge_settings
from registry.roles import Role
from tests.integration.factory import Book
from tests.integration.test_parcels import LAT0, LON0, M_LAT, M_LON, rect

pytestmark = pytest.mark.integration

URL = "/api/registry/parcels/in-box"


def box(x0: float, y0: float, x1: float, y1: float, **extra: Any) -> dict[str, Any]:
    """Query parameters of a box given in metres east and north of the test point."""
    return {
        "min_lon": LON0 + x0 / M_LON,
        "min_lat": LAT0 + y0 / M_LAT,
        "max_lon": LON0 + x1 / M_LON,
        "max_lat": LAT0 + y1 / M_LAT,
        **extra,
    }


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.party("P2")
    await b.asset("A1", geometry=rect(0, 0, 100, 100))
    await b.asset("A2", owner="P2", geometry=rect(70, 0, 270, 100))  # overlaps A1: both flagged
    await b.asset("B1", geometry=rect(300, 0, 400, 100))
    await b.asset("B2", geometry=rect(-200, 0, -100, 100))
    await b.asset("FAR", geometry=rect(9000, 9000, 9100, 9100))
    await b.asset("V1", kind="vehicle")
    return b


async def test_parcels_in_a_box_are_geojson_features_flagged_first(client, as_role, book: Book) -> None:
    r = await client.get(URL, params=box(-500, -500, 500, 500), headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    refs = [f["properties"]["ref"] for f in body["features"]]
    assert refs == ["A1", "A2", "B1", "B2"]  # flagged first, then by ref; FAR and the vehicle are not in the box
    assert (body["total"], body["truncated"]) == (4, False)
    a1 = body["features"][0]
    assert a1["type"] == "Feature"
    assert a1["geometry"] == rect(0, 0, 100, 100)
    assert a1["properties"]["possible_double_pledge"] is True
    assert a1["properties"]["owner_name"]
    assert body["features"][2]["properties"]["possible_double_pledge"] is False
    # A box that only meets B1's bounding box still returns it.
    only_b1 = (await client.get(URL, params=box(390, 90, 600, 600), headers=as_role(Role.AUDITOR))).json()
    assert [f["properties"]["ref"] for f in only_b1["features"]] == ["B1"]


async def test_the_cap_keeps_flagged_parcels_and_says_it_truncated(client, as_role, book: Book) -> None:
    r = await client.get(URL, params=box(-500, -500, 500, 500, limit=3), headers=as_role(Role.CREDIT_OFFICER))
    body = r.json()
    assert [f["properties"]["ref"] for f in body["features"]] == ["A1", "A2", "B1"]
    assert (body["total"], body["limit"], body["truncated"]) == (4, 3, True)
    one = (await client.get(URL, params=box(-500, -500, 500, 500, limit=1), headers=as_role(Role.ADMIN))).json()
    assert [f["properties"]["ref"] for f in one["features"]] == ["A1"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_lon": 122.0, "max_lon": 121.0}, "min_lon"),
        ({"min_lat": 32.0, "max_lat": 31.0}, "min_lat"),
        ({"min_lat": -91}, "min_lat"),
        ({"max_lon": 181}, "max_lon"),
        ({"limit": 0}, "limit"),
        ({"limit": 2001}, "limit"),
    ],
)
async def test_a_bad_box_or_limit_is_422_naming_the_field(client, as_role, change, field) -> None:
    params = {"min_lon": 121.0, "min_lat": 31.0, "max_lon": 122.0, "max_lat": 32.0, **change}
    r = await client.get(URL, params=params, headers=as_role(Role.AUDITOR))
    assert r.status_code == 422, r.text
    assert field in r.text


async def test_the_box_is_for_registry_readers_only(client, as_role) -> None:
    params = {"min_lon": 121.0, "min_lat": 31.0, "max_lon": 122.0, "max_lat": 32.0}
    assert (await client.get(URL, params=params)).status_code == 401
    assert (await client.get(URL, params=params, headers=as_role(Role.BIDDER))).status_code == 403
    assert (await client.get("/parcels/map", headers=as_role(Role.BIDDER))).status_code == 403


async def test_portfolio_map_page_is_framed_on_the_book(client, as_role, book: Book) -> None:
    r = await client.get("/parcels/map", headers=as_role(Role.DISPOSAL_OFFICER))
    assert r.status_code == 200
    extent = re.search(r'data-extent="([^"]+)"', r.text)
    assert extent
    west, south, east, north = (float(v) for v in extent.group(1).split(","))
    assert west == pytest.approx(LON0 - 200 / M_LON, abs=1e-6)
    assert east == pytest.approx(LON0 + 9100 / M_LON, abs=1e-6)
    assert (south, north) == (pytest.approx(LAT0, abs=1e-6), pytest.approx(LAT0 + 9100 / M_LAT, abs=1e-6))
    assert 'data-parcels-url="/api/registry/parcels/in-box"' in r.text
    assert 'data-tile-url=""' in r.text  # no tile server unless one is configured
    assert "vendor/leaflet.js" in r.text and "<script>" not in r.text
    assert "at most 2,000 parcels" in r.text
    overlaps = await client.get("/overlaps", headers=as_role(Role.AUDITOR))
    assert 'href="/parcels/map"' in overlaps.text


async def test_portfolio_map_of_a_book_without_parcels_says_so(client, as_role) -> None:
    r = await client.get("/parcels/map", headers=as_role(Role.AUDITOR))
    assert r.status_code == 200
    assert 'data-testid="no-parcels"' in r.text
    assert 'data-testid="portfolio-map"' not in r.text


def _view_box(html: str) -> tuple[float, float, float, float]:
    found = re.search(r'data-testid="parcel-map"[^>]*viewBox="([^"]+)"', html) or re.search(
        r'viewBox="([^"]+)"[^>]*data-testid="parcel-map"', html
    )
    assert found, "the parcel drawing has a viewBox"
    x, y, w, h = (float(v) for v in found.group(1).split())
    return x, y, x + w, y + h


async def test_asset_drawing_frames_every_parcel_it_draws(client, as_role, book: Book) -> None:
    html = (await client.get("/assets/A1", headers=as_role(Role.AUDITOR))).text
    x0, y0, x1, y1 = _view_box(html)
    drawn = re.findall(r'<path class="parcel parcel-(\w+)" data-ref="([^"]+)"[^>]* d="([^"]+)"', html)
    assert {ref for _, ref, _ in drawn} == {"A1", "A2", "B1", "B2"}  # FAR is beyond the neighbourhood searched
    for role, ref, d in drawn:
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
        xs, ys = numbers[0::2], numbers[1::2]
        assert x0 <= min(xs) and max(xs) <= x1, (role, ref, (x0, x1), (min(xs), max(xs)))
        assert y0 <= min(ys) and max(ys) <= y1, (role, ref, (y0, y1), (min(ys), max(ys)))


STRESS = "/coverage/stress"


async def test_stress_page_offers_saved_regions_and_a_map(client, as_role, book: Book) -> None:
    html = (await client.get(STRESS, headers=as_role(Role.ASSET_MANAGER))).text
    assert '<option value="shanghai-all">Shanghai: whole city</option>' in html
    assert 'data-testid="region-map-0"' in html
    assert '<script type="application/json" id="saved-regions">' in html
    assert "region-map.js" in html


async def test_a_saved_region_runs_without_script(client, as_role, book: Book) -> None:
    form = {"by_region[0].saved": "shanghai-centre", "by_region[0].change_pct": "-20", "as_of": "2026-06-30"}
    r = await client.post(STRESS, data=form, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 200, r.text
    shocks = re.search(r'data-testid="shocks-applied">(.*?)</ul>', r.text, re.S)
    assert shocks and "(4 assets)" in shocks.group(1)  # A1, A2, B1, B2; FAR is 9 km out
    assert '<option value="shanghai-centre" selected>' in r.text


async def test_an_unknown_saved_region_or_none_at_all_is_422_beside_the_field(client, as_role) -> None:
    form = {"by_region[0].saved": "atlantis", "by_region[0].change_pct": "-20"}
    r = await client.post(STRESS, data=form, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 422
    assert re.search(r'id="by_region-0-saved-error"[^>]*>[^<]*not one of the saved regions', r.text)
    bare = await client.post(STRESS, data={"by_region[1].change_pct": "-20"}, headers=as_role(Role.CREDIT_OFFICER))
    assert bare.status_code == 422
    assert re.search(r'id="by_region-1-region-error"[^>]*>[^<]*draw the region on the map', bare.text)
    assert '<details class="region-geojson" open>' in bare.text  # the refused field is in view


async def test_the_map_opens_on_one_asset_from_its_page(client, as_role, book: Book) -> None:
    html = (await client.get("/assets/A1", headers=as_role(Role.AUDITOR))).text
    assert 'href="/parcels/map?ref=A1"' in html
    page = (await client.get("/parcels/map", params={"ref": "A1"}, headers=as_role(Role.AUDITOR))).text
    focus = re.search(r'data-focus="([^"]+)"', page)
    assert focus
    assert [float(v) for v in focus.group(1).split(",")] == pytest.approx(
        [LON0, LAT0, LON0 + 100 / M_LON, LAT0 + 100 / M_LAT], abs=1e-6
    )
    unknown = (await client.get("/parcels/map", params={"ref": "NOPE"}, headers=as_role(Role.AUDITOR))).text
    assert 'data-focus=""' in unknown  # the whole book instead


async def test_a_configured_tile_server_reaches_the_page_and_its_policy(
    client, as_role, book: Book, monkeypatch
) -> None:
    monkeypatch.setenv("COLLATERAL_MAP_TILE_URL", "https://tiles.bank.example/osm/{z}/{x}/{y}.png")
    edge_settings.cache_clear()
    try:
        r = await client.get("/parcels/map", headers=as_role(Role.AUDITOR))
        assert 'data-tile-url="https://tiles.bank.example/osm/{z}/{x}/{y}.png"' in r.text
        assert "img-src 'self' data: https://tiles.bank.example;" in r.headers["content-security-policy"]
    finally:
        monkeypatch.delenv("COLLATERAL_MAP_TILE_URL")
        edge_settings.cache_clear()
    plain = await client.get("/parcels/map", headers=as_role(Role.AUDITOR))
    assert "tiles.bank.example" not in plain.headers["content-security-policy"]
