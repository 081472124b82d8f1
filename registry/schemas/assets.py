from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, get_args

import msgspec

from registry.schemas.fields import Identifiers, LongText, Ref, Region

AssetKind = Literal[
    "real_estate", "land_use_right", "vehicle", "equipment", "inventory", "receivable", "deposit", "equity", "ip_right"
]
AssetStatus = Literal["active", "seized", "in_disposal", "disposed", "taken_in_lieu", "released"]
ASSET_KINDS: tuple[str, ...] = get_args(AssetKind)
ASSET_STATUSES: tuple[str, ...] = get_args(AssetStatus)
PARCEL_KINDS: tuple[str, ...] = ("real_estate", "land_use_right")  # the kinds that may carry a parcel


class AssetCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    kind: AssetKind
    owner_ref: Ref
    description: LongText = ""
    address: LongText = ""
    identifiers: Identifiers = msgspec.field(default_factory=dict)
    geometry: Region | None = None
    status: AssetStatus = "active"


class AssetUpdate(msgspec.Struct, forbid_unknown_fields=True):
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    address: LongText | msgspec.UnsetType = msgspec.UNSET
    identifiers: Identifiers | msgspec.UnsetType = msgspec.UNSET
    geometry: Region | msgspec.UnsetType | None = msgspec.UNSET
    status: AssetStatus | msgspec.UnsetType = msgspec.UNSET


class AssetLienLine(msgspec.Struct):
    """A lien as seen from its asset, in rank order."""

    ref: str
    kind: str
    holder: str
    status: str
    rank: int | None
    perfected_at: datetime | None
    expires_on: date | None
    currency: str
    cap: str | None
    external_claim: str | None
    loan_refs: list[str]


class AssetRead(msgspec.Struct):
    id: int
    ref: str
    kind: str
    owner_ref: str
    owner_name: str
    description: str
    address: str
    identifiers: dict[str, str]
    geometry: dict[str, Any] | None
    status: str
    created_at: datetime


DOUBLE_PLEDGE = "possible double pledge"


class ParcelMeasuresRead(msgspec.Struct):
    area_m2: float
    perimeter_m: float
    centroid_lon: float
    centroid_lat: float
    bbox: list[float]  # [min_lon, min_lat, max_lon, max_lat], the order of GeoJSON's bbox


class AssetOverlapLine(msgspec.Struct):
    """An overlap as seen from one of its two assets."""

    other_ref: str
    other_kind: str
    other_status: str
    other_owner_ref: str
    other_owner_name: str
    overlap_area_m2: float
    share_of_this: str
    share_of_other: str
    detected_at: datetime
    flag: str = DOUBLE_PLEDGE


class AssetDetail(AssetRead, kw_only=True):
    liens: list[AssetLienLine]
    loans_secured: list[str]
    # Derived from the parcel (geodesic, WGS84); None when the asset has no parcel.
    parcel: ParcelMeasuresRead | None = None
    # Other assets whose parcels overlap this one by more than the threshold share.
    overlaps: list[AssetOverlapLine] = msgspec.field(default_factory=list)
