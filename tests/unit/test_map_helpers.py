"""The pure parts of the maps: the asset drawing's frame, the saved stress regions, the tile URL setting and the
page CSP that lets a configured tile server's images in."""

from __future__ import annotations

import pytest

from frontend.parcel_map import frame
from frontend.saved_regions import BY_KEY, SAVED_REGIONS
from registry.edge import PAGE_CSP, page_csp
from registry.edge_settings import tile_url
from registry.geometry import check_parcel

pytestmark = pytest.mark.unit


def test_frame_holds_the_box_with_a_margin_at_the_drawing_aspect() -> None:
    x0, y0, w, h = frame((-200, -50, 270, 100), aspect=2, min_size=80, margin=0.1)
    assert w / h == pytest.approx(2)
    assert x0 <= -200 - 47 + 1e-9 and x0 + w >= 270 + 47 - 1e-9  # 10% of the larger side (470) on each side
    assert y0 <= -50 and y0 + h >= 100
    assert (x0 + w / 2, y0 + h / 2) == pytest.approx((35, 25))  # centred on the box


def test_frame_of_a_tall_box_widens_it_and_a_tiny_one_gets_the_minimum() -> None:
    x0, y0, w, h = frame((0, 0, 10, 100), aspect=2, min_size=80, margin=0)
    assert (h, w) == pytest.approx((100, 200))
    assert x0 == pytest.approx(-95)
    x0, y0, w, h = frame((0, 0, 1, 1), aspect=2, min_size=80, margin=0.06)
    assert (w, h) == pytest.approx((80, 40))
    assert (x0 + w / 2, y0 + h / 2) == pytest.approx((0.5, 0.5))


def test_saved_regions_are_valid_parcels_with_unique_keys() -> None:
    assert len(BY_KEY) == len(SAVED_REGIONS) >= 2
    for region in SAVED_REGIONS:
        assert check_parcel(region.geometry)
    west, east = BY_KEY["shanghai-west"].geometry, BY_KEY["shanghai-east"].geometry
    assert west["coordinates"][0][1][0] == east["coordinates"][0][0][0]  # the halves meet at the centre


@pytest.mark.parametrize(
    "text", ["ftp://tiles.example/{z}/{x}/{y}.png", "https://tiles.example/tile.png", "tiles/{z}/{x}/{y}", ""]
)
def test_a_tile_url_must_be_http_with_z_x_y(text: str) -> None:
    with pytest.raises(ValueError, match=r"tile|must hold"):
        tile_url(text)


def test_the_page_csp_lets_in_only_the_configured_tile_server() -> None:
    assert page_csp(None) == PAGE_CSP
    assert "img-src 'self' data:;" in PAGE_CSP
    with_tiles = page_csp(tile_url("https://tiles.bank.example:8443/osm/{z}/{x}/{y}.png"))
    assert "img-src 'self' data: https://tiles.bank.example:8443;" in with_tiles
    assert "script-src 'self';" in with_tiles and "connect-src 'self';" in with_tiles
