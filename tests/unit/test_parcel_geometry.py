"""registry.parcel_geometry on hand-made parcels: measures, overlaps (and what is not one), spatial filters."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from registry import parcel_geometry as parcels

pytestmark = pytest.mark.unit

LON0, LAT0 = 121.0, 31.0
M_LAT = 111_320.0
M_LON = M_LAT * math.cos(math.radians(LAT0))


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A rectangle given in metres east and north of (121°E, 31°N)."""
    return box(LON0 + x0 / M_LON, LAT0 + y0 / M_LAT, LON0 + x1 / M_LON, LAT0 + y1 / M_LAT)


def pairs(found: list[parcels.Overlap]) -> set[tuple[int, int]]:
    return {(o.a, o.b) for o in found}


def test_measures_are_geodesic_and_match_a_known_square() -> None:
    # A 100 m x 100 m square: area within 0.5% (the metres-per-degree above are spherical approximations).
    m = parcels.measure(rect(0, 0, 100, 100))
    assert m.area_m2 == pytest.approx(10_000, rel=5e-3)
    assert m.perimeter_m == pytest.approx(400, rel=5e-3)
    assert m.centroid_lon == pytest.approx(LON0 + 50 / M_LON)
    assert m.centroid_lat == pytest.approx(LAT0 + 50 / M_LAT)
    assert (m.min_lon, m.min_lat) == pytest.approx((LON0, LAT0))


def test_area_is_positive_whichever_way_the_ring_is_wound() -> None:
    square = rect(0, 0, 50, 50)
    clockwise = Polygon(list(square.exterior.coords)[::-1])
    assert parcels.measure(clockwise).area_m2 == pytest.approx(parcels.measure(square).area_m2)


def test_multipolygon_area_is_the_sum_of_its_parts() -> None:
    both = MultiPolygon([rect(0, 0, 10, 10), rect(100, 100, 120, 110)])
    assert parcels.measure(both).area_m2 == pytest.approx(
        parcels.measure(rect(0, 0, 10, 10)).area_m2 + parcels.measure(rect(100, 100, 120, 110)).area_m2
    )


def test_a_nested_parcel_overlaps_its_container() -> None:
    found = parcels.find_overlaps([1, 2], [rect(0, 0, 100, 100), rect(20, 20, 70, 70)])
    assert pairs(found) == {(1, 2)}
    (o,) = found
    assert o.share_of_a == pytest.approx(0.25, rel=1e-3)
    assert o.share_of_b == pytest.approx(1.0, rel=1e-6)
    assert o.area_m2 == pytest.approx(2500, rel=5e-3)


def test_an_identical_parcel_is_a_full_overlap() -> None:
    (o,) = parcels.find_overlaps([7, 3], [rect(0, 0, 40, 40), rect(0, 0, 40, 40)])
    assert (o.a, o.b) == (3, 7)
    assert o.share_of_a == pytest.approx(1.0)
    assert o.share_of_b == pytest.approx(1.0)


def test_partial_overlap_reports_each_share_with_ids_in_order() -> None:
    # 100 x 100 and 200 x 100 overlapping in a 30 x 100 strip: 30% of the first, 15% of the second.
    (o,) = parcels.find_overlaps([9, 4], [rect(0, 0, 100, 100), rect(70, 0, 270, 100)])
    assert (o.a, o.b) == (4, 9)
    assert o.share_of_a == pytest.approx(0.15, rel=1e-3)
    assert o.share_of_b == pytest.approx(0.30, rel=1e-3)


@pytest.mark.parametrize(
    "other",
    [rect(100, 0, 200, 100), rect(100, 100, 150, 150), rect(100, 30, 130, 60)],
    ids=["edge", "corner", "part-of-an-edge"],
)
def test_parcels_that_only_touch_do_not_overlap(other: Polygon) -> None:
    assert parcels.find_overlaps([1, 2], [rect(0, 0, 100, 100), other]) == []
    assert parcels.overlaps_with(1, rect(0, 0, 100, 100), [(2, other)]) == []


def test_a_sliver_under_the_threshold_is_not_reported_but_one_over_it_is() -> None:
    a = rect(0, 0, 100, 100)
    sliver = rect(99.5, 0, 199.5, 100)  # 0.5% of each
    wider = rect(98.5, 0, 198.5, 100)  # 1.5% of each
    assert parcels.find_overlaps([1, 2], [a, sliver]) == []
    assert pairs(parcels.find_overlaps([1, 2], [a, wider])) == {(1, 2)}
    # The threshold is the caller's: at 0.4% the first sliver counts.
    assert pairs(parcels.find_overlaps([1, 2], [a, sliver], min_share=0.004)) == {(1, 2)}


def test_a_small_parcel_counts_by_its_own_share_even_when_it_is_a_sliver_of_the_large_one() -> None:
    large, small = rect(0, 0, 1000, 1000), rect(995, 0, 1005, 10)  # half of the small one, 0.005% of the large
    (o,) = parcels.find_overlaps([1, 2], [large, small])
    assert o.share_of_b == pytest.approx(0.5, rel=1e-3)
    assert o.share_of_a < 0.001


def test_multipolygon_parcel_overlaps_through_any_part() -> None:
    estate = MultiPolygon([rect(0, 0, 50, 50), rect(200, 0, 250, 50)])
    found = parcels.find_overlaps([1, 2, 3], [estate, rect(210, 10, 240, 40), rect(100, 0, 150, 50)])
    assert pairs(found) == {(1, 2)}
    assert found[0].share_of_b == pytest.approx(1.0)
    assert found[0].share_of_a == pytest.approx(900 / 5000, rel=1e-3)


def test_overlap_sharing_an_edge_as_well_as_an_area_counts_only_the_area() -> None:
    # L-shaped b covers a's right half and runs along a's top edge outside it.
    a = rect(0, 0, 100, 100)
    b = Polygon(
        [
            (LON0 + x / M_LON, LAT0 + y / M_LAT)
            for x, y in [(50, 0), (100, 0), (100, 100), (300, 100), (300, 150), (0, 150), (0, 100), (50, 100), (50, 0)]
        ]
    )
    (o,) = parcels.find_overlaps([1, 2], [a, b])
    assert o.share_of_a == pytest.approx(0.5, rel=1e-3)


def test_full_scan_matches_the_one_parcel_path_on_a_tiled_block() -> None:
    # A 6 x 6 block of touching 30 m parcels plus two planted ones: every neighbour touches, only plants overlap.
    tiles = [rect(30 * c, 30 * r, 30 * c + 30, 30 * r + 30) for r in range(6) for c in range(6)]
    planted = [rect(35, 35, 55, 55), rect(0, 0, 30, 30)]  # inside tile 7; a duplicate of tile 0
    geoms = tiles + planted
    ids = list(range(1, len(geoms) + 1))
    found = parcels.find_overlaps(ids, geoms)
    assert pairs(found) == {(8, 37), (1, 38)}
    one = parcels.overlaps_with(37, planted[0], list(zip(ids, geoms, strict=True)))
    assert pairs(one) == {(8, 37)}


def test_fewer_than_two_parcels_have_no_overlaps() -> None:
    assert parcels.find_overlaps([], []) == []
    assert parcels.find_overlaps([1], [rect(0, 0, 1, 1)]) == []
    assert parcels.overlaps_with(1, rect(0, 0, 1, 1), [(1, rect(0, 0, 1, 1))]) == []


def test_parse_many_reads_stored_texts_and_drops_heights() -> None:
    texts = [
        '{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,1,5],[0,0,5]]]}',
        shapely.to_geojson(rect(0, 0, 10, 10)),
    ]
    geoms = parcels.parse_many(texts)
    assert not shapely.has_z(geoms).any()
    assert parcels.parse_many([]).size == 0


def test_region_match_intersects_within_and_centroid() -> None:
    inside, straddling, touching, outside = (
        rect(10, 10, 20, 20),
        rect(90, 10, 130, 20),
        rect(100, 50, 120, 60),
        rect(300, 300, 310, 310),
    )
    region = rect(0, 0, 100, 100)
    geoms = [inside, straddling, touching, outside]
    assert parcels.in_region(geoms, region, "intersects").tolist() == [True, True, False, False]
    assert parcels.in_region(geoms, region, "within").tolist() == [True, False, False, False]
    assert parcels.in_region(geoms, region, "centroid").tolist() == [True, False, False, False]
    assert parcels.in_region([], region, "within").size == 0


def test_distances_are_geodesic_metres() -> None:
    # One minute of latitude is about 1843 m at 31°N.
    d = parcels.distances_m(LON0, LAT0, [LON0, LON0], [LAT0, LAT0 + 1 / 60])
    assert d[0] == pytest.approx(0)
    assert d[1] == pytest.approx(1848, abs=10)
    assert parcels.distances_m(LON0, LAT0, [], []).size == 0


@pytest.mark.parametrize(("lat", "radius"), [(31.0, 1000), (60.0, 5000), (-45.0, 20_000), (0.0, 100_000)])
def test_radius_box_holds_every_point_within_the_radius(lat: float, radius: float) -> None:
    min_lon, min_lat, max_lon, max_lat = parcels.radius_box(LON0, lat, radius)
    bearings = np.arange(0, 360, 5.0)
    lons, lats, _ = parcels.GEOD.fwd(
        np.full(bearings.size, LON0), np.full(bearings.size, lat), bearings, np.full(bearings.size, radius)
    )
    assert (lons >= min_lon).all()
    assert (lons <= max_lon).all()
    assert (lats >= min_lat).all()
    assert (lats <= max_lat).all()


def test_radius_box_near_a_pole_takes_every_longitude() -> None:
    min_lon, _, max_lon, max_lat = parcels.radius_box(10.0, 89.9, 50_000)
    assert (min_lon, max_lon, max_lat) == (-180.0, 180.0, 90.0)


def test_double_pledge_ids_are_every_asset_in_a_pair() -> None:
    assert parcels.double_pledge_ids([(1, 2), (2, 5)]) == {1, 2, 5}
    assert parcels.double_pledge_ids([parcels.Overlap(3, 4, 1.0, 0.5, 0.5)]) == {3, 4}


def test_radius_box_across_the_antimeridian_takes_every_longitude() -> None:
    min_lon, _, max_lon, _ = parcels.radius_box(179.99, 0.0, 5_000)
    assert (min_lon, max_lon) == (-180.0, 180.0)


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "nan", "one percent"])
def test_threshold_setting_must_be_a_ratio_between_0_and_1(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from registry.config import get_settings

    monkeypatch.setenv("COLLATERAL_OVERLAP_MIN_SHARE", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="COLLATERAL_OVERLAP_MIN_SHARE"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert get_settings().overlap_min_share == 0.01


def test_a_ring_across_the_antimeridian_is_detected_and_refused() -> None:
    from registry.geometry import GeometryError, check_parcel
    from registry.parcel_geometry import crosses_antimeridian

    across = [[179.99, 10.0], [-179.99, 10.0], [-179.99, 10.01], [179.99, 10.01], [179.99, 10.0]]
    assert crosses_antimeridian([across])
    near = [[179.98, 10.0], [179.99, 10.0], [179.99, 10.01], [179.98, 10.01], [179.98, 10.0]]
    assert not crosses_antimeridian([near])
    with pytest.raises(GeometryError, match="180° meridian"):
        check_parcel({"type": "Polygon", "coordinates": [across]})
    with pytest.raises(GeometryError, match="180° meridian"):
        check_parcel({"type": "MultiPolygon", "coordinates": [[near], [across]]})
    assert check_parcel({"type": "Polygon", "coordinates": [near]})["type"] == "Polygon"
