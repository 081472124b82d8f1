"""Parcels found by place: in a GeoJSON region, near a point, and an asset's neighbourhood for its map.

Every query prefilters in SQL by the bounding boxes and centroids stored with each parcel, then decides
with registry.parcel_geometry (pure) on the few rows left.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from piccolo.query.functions.aggregate import Max, Min
from shapely.geometry.base import BaseGeometry

from registry import parcel_geometry
from registry.errors import InvalidInputError
from registry.geometry import GeometryError, check_parcel
from registry.schemas.common import Page, Paging
from registry.schemas.spatial import MapParcelFeature, MapParcelProperties, MapParcels, ParcelHit, RegionQuery
from registry.services.common import read_model
from registry.services.parcel_overlaps import boxes_meet, double_pledge_asset_ids, pairs_of
from registry.tables import Asset


def _hit_select() -> Any:
    return Asset.select(
        Asset.id,
        Asset.ref,
        Asset.kind,
        Asset.status,
        Asset.address,
        Asset.geometry,
        Asset.parcel_area_m2,
        Asset.centroid_lon,
        Asset.centroid_lat,
        Asset.owner.ref.as_alias("owner_ref"),
        Asset.owner.name.as_alias("owner_name"),
    )


def _filters(kind: str | None, status: str | None) -> list[Any]:
    where = [Asset.geometry.is_not_null()]
    if kind:
        where.append(Asset.kind == kind)
    if status:
        where.append(Asset.status == status)
    return where


def _hit(row: dict[str, Any], flagged: set[int], distance: float | None = None) -> ParcelHit:
    return read_model(
        ParcelHit,
        row,
        area_m2=None if row["parcel_area_m2"] is None else round(row["parcel_area_m2"], 2),
        possible_double_pledge=row["id"] in flagged,
        distance_m=None if distance is None else round(distance, 1),
    )


def _page(hits: list[ParcelHit], paging: Paging) -> Page[ParcelHit]:
    return Page(hits[paging.offset : paging.offset + paging.page_size], len(hits), paging.page, paging.page_size)


async def assets_in_region(query: RegionQuery, paging: Paging) -> Page[ParcelHit]:
    """Assets whose parcel lies in a GeoJSON region: any part of it, all of it, or its centroid."""
    region = parse_region(query.region, "region")
    rows = await _hit_select().where(*_filters(query.kind, query.status), *boxes_meet(*region.bounds))
    inside = parcel_geometry.in_region([parcel_geometry.parse(r["geometry"]) for r in rows], region, query.match)
    flagged = await double_pledge_asset_ids()
    hits = sorted((_hit(r, flagged) for r, keep in zip(rows, inside, strict=True) if keep), key=lambda h: h.ref)
    return _page(hits, paging)


def parse_region(region: dict[str, Any], field: str) -> BaseGeometry:
    """A GeoJSON Polygon or MultiPolygon checked like a parcel; InvalidInputError names the field."""
    try:
        return parcel_geometry.parse(check_parcel(region))
    except GeometryError as exc:
        raise InvalidInputError.one(field, str(exc)) from None


async def asset_ids_in_region(region: BaseGeometry, kinds: Sequence[str] | None = None) -> list[int]:
    """Ids of the assets whose parcel intersects the region (more than along an edge), of the given
    kinds or all, for stress scenarios."""
    where = [Asset.geometry.is_not_null(), *boxes_meet(*region.bounds)]
    if kinds:
        where.append(Asset.kind.is_in(list(kinds)))
    rows = await Asset.select(Asset.id, Asset.geometry).where(*where)
    if not rows:
        return []
    geoms = await anyio.to_thread.run_sync(parcel_geometry.parse_many, [r["geometry"] for r in rows])
    inside = parcel_geometry.in_region(geoms, region, "intersects")
    return sorted(r["id"] for r, keep in zip(rows, inside, strict=True) if keep)


async def assets_near(
    lon: float, lat: float, radius_m: float, paging: Paging, *, kind: str | None = None, status: str | None = None
) -> Page[ParcelHit]:
    """Assets whose parcel centroid is within radius_m of the point, nearest first."""
    if not all(math.isfinite(v) for v in (lon, lat, radius_m)):
        raise InvalidInputError.one(
            "lon" if not math.isfinite(lon) else "lat" if not math.isfinite(lat) else "radius_m",
            "must be a finite number",
        )
    min_lon, min_lat, max_lon, max_lat = parcel_geometry.radius_box(lon, lat, radius_m)
    rows = await _hit_select().where(
        *_filters(kind, status),
        Asset.centroid_lon >= min_lon,
        Asset.centroid_lon <= max_lon,
        Asset.centroid_lat >= min_lat,
        Asset.centroid_lat <= max_lat,
    )
    dist = parcel_geometry.distances_m(lon, lat, [r["centroid_lon"] for r in rows], [r["centroid_lat"] for r in rows])
    flagged = await double_pledge_asset_ids()
    near = sorted(
        ((float(d), r) for d, r in zip(dist, rows, strict=True) if d <= radius_m),
        key=lambda pair: (pair[0], pair[1]["ref"]),
    )
    return _page([_hit(r, flagged, d) for d, r in near], paging)


def _map_select() -> Any:
    # A Piccolo query is changed in place by .where(), so each use builds its own.
    return Asset.select(
        Asset.id, Asset.ref, Asset.kind, Asset.status, Asset.geometry, Asset.owner.name.as_alias("owner_name")
    )


async def parcels_in_box(min_lon: float, min_lat: float, max_lon: float, max_lat: float, limit: int) -> MapParcels:
    """The parcels whose bounding box meets the box, as GeoJSON features for a map: those flagged "possible double
    pledge" first (so a capped view never hides one), then by ref, at most `limit`."""
    if min_lon > max_lon or min_lat > max_lat:
        field = "min_lon" if min_lon > max_lon else "min_lat"
        raise InvalidInputError.one(field, f"must not be greater than max_{field[4:]}")
    where = [Asset.geometry.is_not_null(), *boxes_meet(min_lon, min_lat, max_lon, max_lat)]
    total = await Asset.count().where(*where)
    flagged = await double_pledge_asset_ids()
    rows = []
    if flagged:
        rows = await _map_select().where(*where, Asset.id.is_in(sorted(flagged))).order_by(Asset.ref).limit(limit)
    if len(rows) < limit:
        others = [Asset.id.not_in(sorted(flagged))] if flagged else []
        rows += await _map_select().where(*where, *others).order_by(Asset.ref).limit(limit - len(rows))
    features = [
        MapParcelFeature(
            geometry=json.loads(r["geometry"]),
            properties=MapParcelProperties(r["ref"], r["kind"], r["status"], r["owner_name"], r["id"] in flagged),
        )
        for r in rows
    ]
    return MapParcels(features, total, limit, total > len(features))


async def parcel_box(ref: str) -> tuple[float, float, float, float] | None:
    """The bounding box of one asset's parcel (west, south, east, north), or None when it has none."""
    row = await (
        Asset.select(Asset.bbox_min_lon, Asset.bbox_min_lat, Asset.bbox_max_lon, Asset.bbox_max_lat)
        .where(Asset.ref == ref)
        .first()
    )
    if row is None or row["bbox_min_lon"] is None:
        return None
    return (row["bbox_min_lon"], row["bbox_min_lat"], row["bbox_max_lon"], row["bbox_max_lat"])


async def parcel_extent() -> tuple[float, float, float, float] | None:
    """The box holding every parcel (west, south, east, north), or None when no asset has one."""
    row = await Asset.select(
        Min(Asset.bbox_min_lon, alias="w"),
        Min(Asset.bbox_min_lat, alias="s"),
        Max(Asset.bbox_max_lon, alias="e"),
        Max(Asset.bbox_max_lat, alias="n"),
    ).first()
    if row is None or row["w"] is None:
        return None
    return (row["w"], row["s"], row["e"], row["n"])


@dataclass(frozen=True, slots=True)
class MapParcel:
    ref: str
    kind: str
    status: str
    role: str  # "subject", "overlap" (drawn over the subject) or "neighbour"
    geometry: BaseGeometry


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    parcels: list[MapParcel]  # the subject first
    overlap_areas: list[BaseGeometry]  # where the subject and an overlapping parcel share ground


async def neighbourhood(asset_id: int, limit: int = 40) -> Neighbourhood | None:
    """The asset's parcel, the parcels around it (nearest first) and the ground it shares with others."""
    row = await Asset.select(*Asset.all_columns()).where(Asset.id == asset_id).first()
    if row is None or not row["geometry"] or row["bbox_min_lon"] is None:
        return None
    subject = parcel_geometry.parse(row["geometry"])
    # Look around by the parcel's own size, at least ~300 m: the parcels of the next blocks (in the demo book the
    # nearest parcel is typically 300-500 m away), framed with it so none falls outside the drawing.
    pad_lat = max(row["bbox_max_lat"] - row["bbox_min_lat"], 0.0027)
    pad_lon = max(
        row["bbox_max_lon"] - row["bbox_min_lon"], pad_lat / max(0.05, math.cos(math.radians(row["centroid_lat"])))
    )
    rows = await Asset.select(
        Asset.id, Asset.ref, Asset.kind, Asset.status, Asset.geometry, Asset.centroid_lon, Asset.centroid_lat
    ).where(
        Asset.id != asset_id,
        Asset.geometry.is_not_null(),
        *boxes_meet(
            row["bbox_min_lon"] - pad_lon,
            row["bbox_min_lat"] - pad_lat,
            row["bbox_max_lon"] + pad_lon,
            row["bbox_max_lat"] + pad_lat,
        ),
    )
    partners = parcel_geometry.double_pledge_ids(await pairs_of(asset_id)) - {asset_id}
    dist = parcel_geometry.distances_m(
        row["centroid_lon"], row["centroid_lat"], [r["centroid_lon"] for r in rows], [r["centroid_lat"] for r in rows]
    )
    ordered = sorted(zip(dist, rows, strict=True), key=lambda p: (p[1]["id"] not in partners, p[0], p[1]["ref"]))
    shown = [MapParcel(row["ref"], row["kind"], row["status"], "subject", subject)]
    overlap_areas = []
    for _, r in ordered[:limit]:
        geom = parcel_geometry.parse(r["geometry"])
        role = "overlap" if r["id"] in partners else "neighbour"
        shown.append(MapParcel(r["ref"], r["kind"], r["status"], role, geom))
        if role == "overlap":
            overlap_areas.append(subject.intersection(geom))
    return Neighbourhood(shown, overlap_areas)
