"""Parcels: measures, overlaps ("possible double pledge") and spatial queries.

Shares of an area are ratios, so they travel as decimal strings like every ratio of the API; areas,
perimeters, distances and coordinates are measurements, so they are numbers (metres, square metres,
degrees)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from registry.schemas.assets import DOUBLE_PLEDGE, AssetKind, AssetStatus
from registry.schemas.fields import Region


class OverlapAsset(msgspec.Struct):
    ref: str
    kind: str
    status: str
    owner_ref: str
    owner_name: str


class OverlapRead(msgspec.Struct):
    """One pair of parcels drawn over each other; asset_a has the smaller id."""

    id: int
    asset_a: OverlapAsset
    asset_b: OverlapAsset
    overlap_area_m2: float
    share_of_a: str
    share_of_b: str
    detected_at: datetime
    flag: str = DOUBLE_PLEDGE


class RescanReport(msgspec.Struct):
    parcels: int
    measured: int  # parcels whose measures were missing and have been computed
    overlaps: int
    added: int
    removed: int
    min_share: str
    seconds: float


RegionMatchParam = Literal["intersects", "within", "centroid"]


class RegionQuery(msgspec.Struct, forbid_unknown_fields=True):
    region: Region
    match: RegionMatchParam = "intersects"
    kind: AssetKind | None = None
    status: AssetStatus | None = None


class ParcelHit(msgspec.Struct):
    ref: str
    kind: str
    status: str
    owner_ref: str
    owner_name: str
    address: str
    area_m2: float | None
    centroid_lon: float | None
    centroid_lat: float | None
    possible_double_pledge: bool
    distance_m: float | None = None


class MapParcelProperties(msgspec.Struct):
    ref: str
    kind: str
    status: str
    owner_name: str
    possible_double_pledge: bool


class MapParcelFeature(msgspec.Struct):
    geometry: dict[str, Any]  # the stored GeoJSON Polygon or MultiPolygon, WGS84
    properties: MapParcelProperties
    type: Literal["Feature"] = "Feature"


class MapParcels(msgspec.Struct):
    """A GeoJSON FeatureCollection of the parcels in a box, flagged parcels first, at most `limit` of them."""

    features: list[MapParcelFeature]
    total: int  # parcels in the box; more than len(features) when truncated
    limit: int
    truncated: bool
    type: Literal["FeatureCollection"] = "FeatureCollection"
