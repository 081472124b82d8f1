"""Comparables for a valuation: recent approved valuations of assets of the same kind nearby.

An appraiser valuing one parcel looks at what similar ones nearby were found to be worth: the
latest approved valuation of each other asset of the same kind whose parcel centroid lies within
the radius, valued within the window, nearest first. Distances are geodesic between centroids.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec

from registry import parcel_geometry
from registry.errors import StateConflictError
from registry.money import format_amount
from registry.schemas.common import Page, Paging
from registry.services.common import row_or_404
from registry.tables import Asset
from valuation.tables import Valuation


class Comparable(msgspec.Struct):
    asset_ref: str
    kind: str
    status: str
    address: str
    distance_m: float
    area_m2: float | None
    valuation_id: int
    valued_on: date
    method: str
    appraiser: str
    currency: str
    market_value: str
    forced_sale_value: str | None
    value_per_m2: str | None  # market value over the parcel's geodesic area, to the currency's minor unit


class Comparables(msgspec.Struct):
    subject_ref: str
    kind: str
    centroid_lon: float
    centroid_lat: float
    radius_m: float
    valued_from: date
    valued_to: date
    comparables: Page[Comparable]


def _per_m2(units: int, currency: str, area_m2: float | None) -> str | None:
    if not area_m2:
        return None
    exact = Decimal(format_amount(units, currency)) / Decimal(repr(area_m2))
    quantum = Decimal(format_amount(1, currency))
    return str(exact.quantize(quantum, rounding=ROUND_HALF_EVEN))


def _comparable(row: dict[str, Any], distance: float) -> Comparable:
    currency = row["currency"]
    forced = row["forced_sale_value"]
    return Comparable(
        asset_ref=row["asset_ref"],
        kind=row["kind"],
        status=row["asset_status"],
        address=row["address"],
        distance_m=round(distance, 1),
        area_m2=None if row["area_m2"] is None else round(row["area_m2"], 2),
        valuation_id=row["id"],
        valued_on=row["valued_on"],
        method=row["method"],
        appraiser=row["appraiser"],
        currency=currency,
        market_value=format_amount(row["market_value"], currency),
        forced_sale_value=None if forced is None else format_amount(forced, currency),
        value_per_m2=_per_m2(row["market_value"], currency, row["area_m2"]),
    )


async def comparables(asset_ref: str, *, radius_m: float, days: int, as_of: date, paging: Paging) -> Comparables:
    subject = await row_or_404(
        Asset.select(Asset.id, Asset.ref, Asset.kind, Asset.centroid_lon, Asset.centroid_lat).where(
            Asset.ref == asset_ref
        ),
        "asset",
        asset_ref,
    )
    lon, lat = subject["centroid_lon"], subject["centroid_lat"]
    if lon is None or lat is None:
        raise StateConflictError(f"asset {asset_ref!r} has no parcel, so it has no place to compare from")
    valued_from = as_of - timedelta(days=days)
    min_lon, min_lat, max_lon, max_lat = parcel_geometry.radius_box(lon, lat, radius_m)
    va: Any = Valuation.asset
    rows = (
        await Valuation.select(
            Valuation.id,
            Valuation.valued_on,
            Valuation.market_value,
            Valuation.forced_sale_value,
            Valuation.currency,
            Valuation.method,
            Valuation.appraiser,
            va.id.as_alias("asset_id"),
            va.ref.as_alias("asset_ref"),
            va.kind.as_alias("kind"),
            va.status.as_alias("asset_status"),
            va.address.as_alias("address"),
            va.parcel_area_m2.as_alias("area_m2"),
            va.centroid_lon.as_alias("lon"),
            va.centroid_lat.as_alias("lat"),
        )
        .where(
            Valuation.status == "approved",
            Valuation.valued_on >= valued_from,
            Valuation.valued_on <= as_of,
            va.kind == subject["kind"],
            va.id != subject["id"],
            va.centroid_lon >= min_lon,
            va.centroid_lon <= max_lon,
            va.centroid_lat >= min_lat,
            va.centroid_lat <= max_lat,
        )
        .order_by(Valuation.valued_on, Valuation.id, ascending=False)
    )
    latest: dict[int, dict[str, Any]] = {}
    for row in rows:  # newest first, so the first seen per asset is its latest
        latest.setdefault(row["asset_id"], row)
    found = list(latest.values())
    distances = parcel_geometry.distances_m(lon, lat, [r["lon"] for r in found], [r["lat"] for r in found])
    near = sorted(
        ((float(d), r) for d, r in zip(distances, found, strict=True) if d <= radius_m),
        key=lambda pair: (pair[0], pair[1]["asset_ref"]),
    )
    items = [_comparable(r, d) for d, r in near]
    page = Page(items[paging.offset : paging.offset + paging.page_size], len(items), paging.page, paging.page_size)
    return Comparables(
        subject_ref=subject["ref"],
        kind=subject["kind"],
        centroid_lon=lon,
        centroid_lat=lat,
        radius_m=radius_m,
        valued_from=valued_from,
        valued_to=as_of,
        comparables=page,
    )
