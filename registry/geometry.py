"""Parcel geometry: GeoJSON polygons checked with Shapely. Pure."""

from __future__ import annotations

from typing import Any

import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from registry.parcel_geometry import crosses_antimeridian


class GeometryError(ValueError):
    """A parcel geometry that cannot be accepted, with the reason."""


ALLOWED_TYPES = ("Polygon", "MultiPolygon")


def _check_ring_closed(ring: Any) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise GeometryError("a linear ring needs at least four positions")
    if ring[0] != ring[-1]:
        raise GeometryError("a linear ring must be closed: its first and last positions must be equal")
    for position in ring:
        if not (
            isinstance(position, list)
            and len(position) in (2, 3)
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in position)
        ):
            raise GeometryError(f"{position!r} is not a [longitude, latitude] position")
        lon, lat = position[0], position[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeometryError(f"position {position!r} is outside longitude ±180 / latitude ±90")


def check_parcel(geojson: Any) -> dict[str, Any]:
    """Validate a GeoJSON Polygon or MultiPolygon; return it unchanged or raise GeometryError."""
    if not isinstance(geojson, dict):
        raise GeometryError("must be a GeoJSON object")
    kind = geojson.get("type")
    if kind not in ALLOWED_TYPES:
        raise GeometryError(f"type must be Polygon or MultiPolygon, not {kind!r}")
    coords = geojson.get("coordinates")
    if not isinstance(coords, list) or not coords:
        raise GeometryError("geometry is empty")
    polygons = coords if kind == "MultiPolygon" else [coords]
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise GeometryError("geometry is empty")
        for ring in polygon:
            _check_ring_closed(ring)
        if crosses_antimeridian(polygon):
            raise GeometryError(
                "a ring crosses the ±180° meridian (its longitude jumps by more than 180° between vertices); "
                "enter the parcel as a MultiPolygon of two parts, one on either side of the meridian"
            )
    try:
        geom = shape(geojson)
    except (ValueError, TypeError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"not a readable geometry: {exc}") from None
    if geom.is_empty:
        raise GeometryError("geometry is empty")
    if not geom.is_valid:
        raise GeometryError(f"invalid geometry: {explain_validity(geom)}")
    return geojson
