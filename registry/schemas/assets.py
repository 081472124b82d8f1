from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import msgspec

from registry.schemas.fields import Identifiers, LongText, Ref

AssetKind = Literal[
    "real_estate", "land_use_right", "vehicle", "equipment", "inventory", "receivable", "deposit", "equity", "ip_right"
]
AssetStatus = Literal["active", "seized", "in_disposal", "disposed", "taken_in_lieu", "released"]


class AssetCreate(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    kind: AssetKind
    owner_ref: Ref
    description: LongText = ""
    address: LongText = ""
    identifiers: Identifiers = msgspec.field(default_factory=dict)
    geometry: dict[str, Any] | None = None
    status: AssetStatus = "active"


class AssetUpdate(msgspec.Struct, forbid_unknown_fields=True):
    description: LongText | msgspec.UnsetType = msgspec.UNSET
    address: LongText | msgspec.UnsetType = msgspec.UNSET
    identifiers: Identifiers | msgspec.UnsetType = msgspec.UNSET
    geometry: dict[str, Any] | msgspec.UnsetType | None = msgspec.UNSET
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


class AssetDetail(AssetRead, kw_only=True):
    liens: list[AssetLienLine]
    loans_secured: list[str]
