from __future__ import annotations

import pytest

from registry.geometry import GeometryError, check_parcel

pytestmark = pytest.mark.unit

SQUARE = [[121.0, 31.0], [121.001, 31.0], [121.001, 31.001], [121.0, 31.001], [121.0, 31.0]]


def test_valid_polygon_and_multipolygon_pass() -> None:
    assert check_parcel({"type": "Polygon", "coordinates": [SQUARE]})["type"] == "Polygon"
    check_parcel({"type": "MultiPolygon", "coordinates": [[SQUARE]]})


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "Self-intersection"),
        ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, "must be closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [200, 1], [0, 0]]]}, "outside longitude"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 95], [1, 0], [0, 0]]]}, "outside longitude"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "Point", "coordinates": [0, 0]}, "Polygon or MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least four positions"),
        ({"type": "Polygon", "coordinates": [[[0, 0], ["a", 0], [1, 1], [0, 0]]]}, "not a \\[longitude, latitude\\]"),
        ("not an object", "GeoJSON object"),
    ],
)
def test_bad_geometry_refused_with_reason(geometry: object, reason: str) -> None:
    with pytest.raises(GeometryError, match=reason):
        check_parcel(geometry)
