"""Named regions a stress scenario can pick instead of drawing one: the demo book's two cities, each whole and in
halves. Pure: no framework, no database.

A region is a GeoJSON Polygon in WGS84 (longitude, latitude). The demo's parcels sit on a 7.5 km grid around each
city's centre (registry/demo/places.py); a bank would list its own districts here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_M_PER_DEG_LAT = 111_320.0
_CITIES = {"Shanghai": (121.4737, 31.2304), "Hangzhou": (120.1551, 30.2741)}
_HALF_M = 4_000.0  # a little beyond the demo grid's 3.75 km half-width, so edge parcels are inside


@dataclass(frozen=True, slots=True)
class SavedRegion:
    key: str
    name: str
    geometry: dict[str, Any]


def _box(lon0: float, lat0: float, west_m: float, south_m: float, east_m: float, north_m: float) -> dict[str, Any]:
    m_per_deg_lon = _M_PER_DEG_LAT * math.cos(math.radians(lat0))

    def lon(m: float) -> float:
        return round(lon0 + m / m_per_deg_lon, 6)

    def lat(m: float) -> float:
        return round(lat0 + m / _M_PER_DEG_LAT, 6)

    w, e, s, n = lon(west_m), lon(east_m), lat(south_m), lat(north_m)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _regions() -> tuple[SavedRegion, ...]:
    h = _HALF_M
    parts = (
        ("all", "whole city", (-h, -h, h, h)),
        ("centre", "centre (3 km square)", (-1_500, -1_500, 1_500, 1_500)),
        ("north", "north half", (-h, 0, h, h)),
        ("south", "south half", (-h, -h, h, 0)),
        ("east", "east half", (0, -h, h, h)),
        ("west", "west half", (-h, -h, 0, h)),
    )
    return tuple(
        SavedRegion(f"{city.lower()}-{key}", f"{city}: {name}", _box(lon0, lat0, *box))
        for city, (lon0, lat0) in _CITIES.items()
        for key, name, box in parts
    )


SAVED_REGIONS = _regions()
BY_KEY = {r.key: r for r in SAVED_REGIONS}
