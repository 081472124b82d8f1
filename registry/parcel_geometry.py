"""Parcels as plain data: geodesic measures, overlap detection and spatial filters. Pure.

Geometries are Shapely objects in WGS84 longitude/latitude, already checked by registry.geometry.
Every figure reported in metres (areas, perimeters, distances, overlap areas and the shares made of
them) is geodesic, on the WGS84 ellipsoid (pyproj's Geod). Planar arithmetic on degrees is used only
to discard what cannot matter, with a margin far wider than its error.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

GEOD = Geod(ellps="WGS84")

# Parcels that stay in the pledge book; a released, disposed or taken-in-lieu asset pledges nothing,
# so its parcel cannot be pledged twice.
LIVE_STATUSES = frozenset({"active", "seized", "in_disposal"})

DEFAULT_MIN_SHARE = 0.01

# Shares are first estimated on the lon/lat plane. For one small parcel the map from degrees to
# metres is close to linear, so area ratios survive it; the error grows with the parcel's extent in
# latitude (about 1e-4 relative for a kilometre). A pair is looked at geodesically once its planar
# share is within this factor of the threshold, which leaves room for parcels tens of kilometres wide.
_PLANAR_MARGIN = 0.98

RegionMatch = Literal["intersects", "within", "centroid"]
_M_PER_DEG_LAT = 111_320.0

# Shapely's vectorised functions release the GIL, so large batches are split across the cores. Only
# unprepared geometries are shared between threads: GEOS reads them without writing anything.
_WORKERS = max(1, min(8, os.cpu_count() or 1))
_PARALLEL_FROM = 20_000


def _parallel(fn: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
    size = arrays[0].size
    if size < _PARALLEL_FROM or _WORKERS == 1:
        return fn(*arrays)
    edges = np.linspace(0, size, _WORKERS + 1, dtype=np.int64)
    chunks = [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]
    with ThreadPoolExecutor(_WORKERS) as pool:
        parts = list(pool.map(lambda part: fn(*(array[part] for array in arrays)), chunks))
    return np.concatenate(parts)


@dataclass(frozen=True, slots=True)
class ParcelMeasures:
    area_m2: float
    perimeter_m: float
    centroid_lon: float
    centroid_lat: float
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class Overlap:
    """Two parcels drawn over each other; a is the smaller id."""

    a: int
    b: int
    area_m2: float
    share_of_a: float
    share_of_b: float


def crosses_antimeridian(rings: Iterable[Sequence[Sequence[float]]]) -> bool:
    """Whether any ring's longitude jumps by more than 180 degrees between consecutive vertices: drawn across
    the ±180° meridian. Read on the lon/lat plane such a ring spans nearly the whole world (its box, centroid
    and overlaps all on the wrong side), so the registry refuses it: the parcel is entered as two polygons,
    one either side of the meridian (a MultiPolygon)."""
    return any(abs(float(b[0]) - float(a[0])) > 180 for ring in rings for a, b in itertools.pairwise(ring))


def parse(geojson: dict[str, Any] | str) -> BaseGeometry:
    """A stored or posted GeoJSON parcel as a 2-D Shapely geometry."""
    text = geojson if isinstance(geojson, str) else json.dumps(geojson)
    return shapely.force_2d(shapely.from_geojson(text))


def parse_many(texts: Sequence[str]) -> np.ndarray:
    """Stored GeoJSON texts as an array of 2-D geometries, parsed in one call (the full rescan's path)."""
    if not texts:
        return np.empty(0, dtype=object)
    # GEOS's own GeoJSON reader: several times faster than json.loads and a Polygon per row.
    return shapely.force_2d(shapely.from_geojson(np.asarray(texts, dtype=object)))  # type: ignore[no-any-return]


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    # An intersection of two parcels that share an edge as well as an area comes back as a collection
    # holding that edge; only its polygons have an area.
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def geodesic_area(geom: BaseGeometry) -> float:
    geom = _polygonal(geom)
    if geom.is_empty:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(geom)
    # Geod signs the area by ring orientation; GeoJSON parcels come wound either way.
    return abs(float(area))


def measure(geom: BaseGeometry) -> ParcelMeasures:
    area, perimeter = GEOD.geometry_area_perimeter(geom)
    # The centroid on the lon/lat plane: for a parcel a few kilometres across it is within
    # centimetres of the geodesic one, and it is only used to place the parcel for point queries.
    centroid = geom.centroid
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    return ParcelMeasures(
        area_m2=abs(float(area)),
        perimeter_m=float(perimeter),
        centroid_lon=float(centroid.x),
        centroid_lat=float(centroid.y),
        min_lon=float(min_lon),
        min_lat=float(min_lat),
        max_lon=float(max_lon),
        max_lat=float(max_lat),
    )


def _overlaps_of_pairs(
    ids: np.ndarray, geoms: np.ndarray, left: np.ndarray, right: np.ndarray, min_share: float
) -> list[Overlap]:
    """Measure candidate pairs (indexes into geoms) and keep those over the threshold share of either."""
    if left.size == 0:
        return []
    # Neighbours in a cadastre mostly meet along edges or at corners, which shares no area whatever
    # the threshold; for valid polygons that intersect, "touches" says exactly that, and costs less
    # than computing the intersection, so those pairs go first.
    inner = ~_parallel(shapely.touches, geoms[left], geoms[right])
    left, right = left[inner], right[inner]
    inter = _parallel(shapely.intersection, geoms[left], geoms[right])
    inter_area = shapely.area(inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        planar_share = np.maximum(inter_area / shapely.area(geoms[left]), inter_area / shapely.area(geoms[right]))
    keep = np.flatnonzero((inter_area > 0) & (planar_share > min_share * _PLANAR_MARGIN))
    areas: dict[int, float] = {}

    def area_of(index: int) -> float:
        if index not in areas:
            areas[index] = geodesic_area(geoms[index])
        return areas[index]

    found: list[Overlap] = []
    for k in keep:
        i, j = int(left[k]), int(right[k])
        overlap_m2 = geodesic_area(inter[k])
        share_i, share_j = overlap_m2 / area_of(i), overlap_m2 / area_of(j)
        if overlap_m2 <= 0 or max(share_i, share_j) <= min_share:
            continue
        id_i, id_j = int(ids[i]), int(ids[j])
        if id_i > id_j:
            id_i, id_j, share_i, share_j = id_j, id_i, share_j, share_i
        found.append(Overlap(id_i, id_j, overlap_m2, share_i, share_j))
    found.sort(key=lambda o: (o.a, o.b))
    return found


def find_overlaps(
    ids: Sequence[int] | np.ndarray, geoms: Sequence[BaseGeometry] | np.ndarray, min_share: float = DEFAULT_MIN_SHARE
) -> list[Overlap]:
    """Every pair of parcels overlapping by more than min_share of either one's area, each pair once.

    One STRtree over all parcels and one bulk query of the tree with every parcel: the tree returns
    the pairs whose boxes meet and the predicate keeps those that touch at all; the intersections
    are then computed for those pairs only, in one vectorised call.
    """
    geom_array = np.asarray(geoms, dtype=object)
    id_array = np.asarray(ids, dtype=np.int64)
    if geom_array.size < 2:
        return []
    tree = shapely.STRtree(geom_array)
    left, right = tree.query(geom_array, predicate="intersects")
    # The query finds each pair twice (and every parcel against itself); keep one direction.
    once = left < right
    return _overlaps_of_pairs(id_array, geom_array, left[once], right[once], min_share)


def overlaps_with(
    subject_id: int,
    subject: BaseGeometry,
    others: Iterable[tuple[int, BaseGeometry]],
    min_share: float = DEFAULT_MIN_SHARE,
) -> list[Overlap]:
    """The overlaps of one parcel (just added or changed) with the given others."""
    pairs = [(i, g) for i, g in others if i != subject_id]
    if not pairs:
        return []
    ids = np.asarray([subject_id] + [i for i, _ in pairs], dtype=np.int64)
    geoms = np.asarray([subject] + [g for _, g in pairs], dtype=object)
    hits = np.flatnonzero(shapely.intersects(subject, geoms[1:])) + 1
    return _overlaps_of_pairs(ids, geoms, np.zeros(hits.size, dtype=np.int64), hits, min_share)


def in_region(geoms: Sequence[BaseGeometry] | np.ndarray, region: BaseGeometry, match: RegionMatch) -> np.ndarray:
    """Which parcels are in the region: any part of them (intersects), all of them (within), or their centroid."""
    geom_array = np.asarray(geoms, dtype=object)
    if geom_array.size == 0:
        return np.zeros(0, dtype=bool)
    shapely.prepare(region)
    if match == "within":
        return np.asarray(shapely.within(geom_array, region), dtype=bool)
    if match == "centroid":
        return np.asarray(shapely.intersects(region, shapely.centroid(geom_array)), dtype=bool)
    # Touching the region's boundary along an edge is not being in it.
    touching = shapely.intersects(region, geom_array)
    inside = np.zeros(geom_array.size, dtype=bool)
    idx = np.flatnonzero(touching)
    if idx.size:
        inside[idx] = shapely.area(shapely.intersection(geom_array[idx], region)) > 0
    return inside


def radius_box(lon: float, lat: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lon/lat box sure to hold every point within radius_m of (lon, lat): an SQL prefilter.

    Wider than needed by a few percent (the ellipsoid's metres per degree vary by under 1%). Near a
    pole, or where the circle would cross the antimeridian, it takes every longitude.
    """
    dlat = radius_m / _M_PER_DEG_LAT * 1.02
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    cos_lat = math.cos(math.radians(min(89.0, abs(lat) + dlat)))
    dlon = math.inf if cos_lat < 0.02 else dlat / cos_lat
    if lon - dlon < -180 or lon + dlon > 180:
        return (-180.0, min_lat, 180.0, max_lat)
    return (lon - dlon, min_lat, lon + dlon, max_lat)


def distances_m(
    lon: float, lat: float, lons: Sequence[float] | np.ndarray, lats: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Geodesic distances in metres from one point to many, in one call."""
    lon_array = np.asarray(lons, dtype=float)
    if lon_array.size == 0:
        return np.zeros(0)
    _, _, dist = GEOD.inv(
        np.full(lon_array.size, lon), np.full(lon_array.size, lat), lon_array, np.asarray(lats, dtype=float)
    )
    return np.asarray(dist, dtype=float)


def double_pledge_ids(overlaps: Iterable[Overlap | tuple[int, int]]) -> set[int]:
    """The assets flagged "possible double pledge": every asset in at least one overlap pair.

    For the coverage engine: feed it ParcelOverlap rows as (asset_a, asset_b) pairs.
    """
    out: set[int] = set()
    for pair in overlaps:
        a, b = (pair.a, pair.b) if isinstance(pair, Overlap) else pair
        out.update((a, b))
    return out
