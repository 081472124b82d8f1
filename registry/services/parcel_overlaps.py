"""Parcels in the database: measures kept beside each geometry, overlaps kept as ParcelOverlap rows.

The computation is registry.parcel_geometry (pure); this module reads the rows it needs, prefiltered in
SQL by the bounding boxes and centroids stored with each parcel, and writes what it finds. Queries by
place (a region, a point, an asset's neighbourhood) are in registry.services.parcel_search.

For the coverage engine, "possible double pledge" is `double_pledge_asset_ids()`, or in SQL:
`SELECT asset_a FROM parcel_overlap UNION SELECT asset_b FROM parcel_overlap`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import anyio.to_thread

from registry import audit, clock, parcel_geometry
from registry.config import get_settings
from registry.db import lock_named, write_transaction
from registry.schemas.assets import AssetOverlapLine, ParcelMeasuresRead
from registry.schemas.common import Page, Paging
from registry.schemas.spatial import OverlapAsset, OverlapRead, RescanReport
from registry.services.common import id_for_ref
from registry.tables import Asset, ParcelOverlap

# Orders every writer of parcels and overlap rows on PostgreSQL, so two parcels drawn over each
# other in concurrent transactions cannot both miss the other. SQLite's IMMEDIATE transaction
# already serialises writers.
_PARCEL_LOCK = 0x70617263  # "parc"
_INSERT_BATCH = 500
_LIVE = list(parcel_geometry.LIVE_STATUSES)
MEASURE_COLUMNS = (
    "parcel_area_m2",
    "parcel_perimeter_m",
    "centroid_lon",
    "centroid_lat",
    "bbox_min_lon",
    "bbox_min_lat",
    "bbox_max_lon",
    "bbox_max_lat",
)


def min_share() -> float:
    return get_settings().overlap_min_share


def ratio(value: float) -> str:
    return f"{value:.6f}"


def measure_columns(geometry: dict[str, Any] | str | None) -> dict[Any, Any]:
    """The Asset columns derived from a checked parcel (GeoJSON, parsed or stored); all None without one."""
    if geometry is None:
        return dict.fromkeys(MEASURE_COLUMNS)
    m = parcel_geometry.measure(parcel_geometry.parse(geometry))
    values = (m.area_m2, m.perimeter_m, m.centroid_lon, m.centroid_lat, m.min_lon, m.min_lat, m.max_lon, m.max_lat)
    return dict(zip(MEASURE_COLUMNS, values, strict=True))


def measures_read(row: dict[str, Any]) -> ParcelMeasuresRead | None:
    if row.get("parcel_area_m2") is None:
        return None
    return ParcelMeasuresRead(
        area_m2=round(row["parcel_area_m2"], 2),
        perimeter_m=round(row["parcel_perimeter_m"], 2),
        centroid_lon=row["centroid_lon"],
        centroid_lat=row["centroid_lat"],
        bbox=[row["bbox_min_lon"], row["bbox_min_lat"], row["bbox_max_lon"], row["bbox_max_lat"]],
    )


def boxes_meet(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> list[Any]:
    return [
        Asset.bbox_min_lon <= max_lon,
        Asset.bbox_max_lon >= min_lon,
        Asset.bbox_min_lat <= max_lat,
        Asset.bbox_max_lat >= min_lat,
    ]


async def pairs_of(asset_id: int) -> dict[tuple[int, int], datetime]:
    rows = await ParcelOverlap.select(ParcelOverlap.asset_a, ParcelOverlap.asset_b, ParcelOverlap.detected_at).where(
        (ParcelOverlap.asset_a == asset_id) | (ParcelOverlap.asset_b == asset_id)
    )
    return {(r["asset_a"], r["asset_b"]): r["detected_at"] for r in rows}


async def _insert(found: Sequence[parcel_geometry.Overlap], detected: dict[tuple[int, int], datetime]) -> None:
    now = clock.now()
    rows = [
        ParcelOverlap(
            asset_a=o.a,
            asset_b=o.b,
            overlap_area_m2=o.area_m2,
            share_of_a=o.share_of_a,
            share_of_b=o.share_of_b,
            detected_at=detected.get((o.a, o.b), now),
        )
        for o in found
    ]
    for start in range(0, len(rows), _INSERT_BATCH):
        await ParcelOverlap.insert(*rows[start : start + _INSERT_BATCH])


async def _refs(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Asset.select(Asset.id, Asset.ref).where(Asset.id.is_in(list(ids)))
    return {r["id"]: r["ref"] for r in rows}


async def refresh_overlaps(asset_id: int, actor: str) -> None:
    """Rebuild one asset's overlap rows after its parcel or status changed.

    Runs inside the caller's write transaction. A pair found again keeps the time it was first
    detected. When the set of assets it overlaps changes, that change is an audit event of the asset.
    """
    await lock_named(_PARCEL_LOCK)
    row = await Asset.select(*Asset.all_columns()).where(Asset.id == asset_id).first()
    if row is None:
        return
    before = await pairs_of(asset_id)
    await ParcelOverlap.delete().where((ParcelOverlap.asset_a == asset_id) | (ParcelOverlap.asset_b == asset_id))
    found: list[parcel_geometry.Overlap] = []
    if row["geometry"] and row["status"] in parcel_geometry.LIVE_STATUSES and row["bbox_min_lon"] is not None:
        candidates = await Asset.select(Asset.id, Asset.geometry).where(
            Asset.id != asset_id,
            Asset.geometry.is_not_null(),
            Asset.status.is_in(_LIVE),
            *boxes_meet(row["bbox_min_lon"], row["bbox_min_lat"], row["bbox_max_lon"], row["bbox_max_lat"]),
        )
        others = [(c["id"], parcel_geometry.parse(c["geometry"])) for c in candidates]
        found = parcel_geometry.overlaps_with(asset_id, parcel_geometry.parse(row["geometry"]), others, min_share())
        await _insert(found, before)
    partners_before = {a if b == asset_id else b for a, b in before}
    partners_after = {o.b if o.a == asset_id else o.a for o in found}
    if partners_before != partners_after:
        refs = await _refs(partners_before | partners_after)
        await audit.record(
            actor,
            "asset",
            row["ref"],
            "parcel_overlaps",
            before={"possible_double_pledge_with": sorted(refs[i] for i in partners_before)},
            after={"possible_double_pledge_with": sorted(refs[i] for i in partners_after)},
        )


async def _backfill_measures() -> int:
    """Measure parcels stored before measures were kept (or by a path that skipped them)."""
    rows = await Asset.select(Asset.id, Asset.geometry).where(
        Asset.geometry.is_not_null(), Asset.parcel_area_m2.is_null()
    )
    for r in rows:
        await Asset.update(measure_columns(r["geometry"])).where(Asset.id == r["id"])
    return len(rows)


def _scan(ids: list[int], texts: list[str], share: float) -> list[parcel_geometry.Overlap]:
    return parcel_geometry.find_overlaps(ids, parcel_geometry.parse_many(texts), share)


async def rescan(actor: str) -> RescanReport:
    """Scan every live parcel against every other and replace all overlap rows, in one transaction.

    A pair found again keeps the time it was first detected. Writes one audit event with the counts.
    """
    started = time.perf_counter()
    share = min_share()
    async with write_transaction():
        await lock_named(_PARCEL_LOCK)
        measured = await _backfill_measures()
        rows = await Asset.select(Asset.id, Asset.geometry).where(
            Asset.geometry.is_not_null(), Asset.status.is_in(_LIVE)
        )
        ids = [r["id"] for r in rows]
        # Seconds of CPU for a large registry: off the event loop, so other requests are still served.
        found = await anyio.to_thread.run_sync(_scan, ids, [r["geometry"] for r in rows], share)
        old = await ParcelOverlap.select(ParcelOverlap.asset_a, ParcelOverlap.asset_b, ParcelOverlap.detected_at)
        detected = {(r["asset_a"], r["asset_b"]): r["detected_at"] for r in old}
        await ParcelOverlap.delete(force=True)
        await _insert(found, detected)
        new_pairs = {(o.a, o.b) for o in found}
        report = RescanReport(
            parcels=len(ids),
            measured=measured,
            overlaps=len(found),
            added=len(new_pairs - detected.keys()),
            removed=len(detected.keys() - new_pairs),
            min_share=ratio(share),
            seconds=0.0,
        )
        await audit.record(
            actor,
            "parcel_overlap",
            "all",
            "rescan",
            before={"overlaps": len(detected)},
            after={
                "parcels": report.parcels,
                "measured": measured,
                "overlaps": report.overlaps,
                "added": report.added,
                "removed": report.removed,
                "min_share": report.min_share,
            },
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _overlap_select() -> Any:
    # Typed as Any: Piccolo builds the joins (asset_a.owner.name) at run time.
    a: Any = ParcelOverlap.asset_a
    b: Any = ParcelOverlap.asset_b
    return ParcelOverlap.select(
        *ParcelOverlap.all_columns(),
        a.ref.as_alias("a_ref"),
        a.kind.as_alias("a_kind"),
        a.status.as_alias("a_status"),
        a.owner.ref.as_alias("a_owner_ref"),
        a.owner.name.as_alias("a_owner_name"),
        b.ref.as_alias("b_ref"),
        b.kind.as_alias("b_kind"),
        b.status.as_alias("b_status"),
        b.owner.ref.as_alias("b_owner_ref"),
        b.owner.name.as_alias("b_owner_name"),
    )


def _side(row: dict[str, Any], side: str) -> OverlapAsset:
    return OverlapAsset(
        ref=row[f"{side}_ref"],
        kind=row[f"{side}_kind"],
        status=row[f"{side}_status"],
        owner_ref=row[f"{side}_owner_ref"],
        owner_name=row[f"{side}_owner_name"],
    )


async def list_overlaps(paging: Paging, *, asset_ref: str | None = None) -> Page[OverlapRead]:
    where = []
    if asset_ref is not None:
        asset_id = await id_for_ref(Asset, asset_ref, "asset", "asset_ref")
        where.append((ParcelOverlap.asset_a == asset_id) | (ParcelOverlap.asset_b == asset_id))
    total = await ParcelOverlap.count().where(*where)
    rows = (
        await _overlap_select()
        .where(*where)
        .order_by(ParcelOverlap.detected_at, ParcelOverlap.id, ascending=False)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    items = [
        OverlapRead(
            id=r["id"],
            asset_a=_side(r, "a"),
            asset_b=_side(r, "b"),
            overlap_area_m2=round(r["overlap_area_m2"], 2),
            share_of_a=ratio(r["share_of_a"]),
            share_of_b=ratio(r["share_of_b"]),
            detected_at=r["detected_at"],
        )
        for r in rows
    ]
    return Page(items, total, paging.page, paging.page_size)


async def overlaps_for_asset(asset_id: int) -> list[AssetOverlapLine]:
    rows = await _overlap_select().where((ParcelOverlap.asset_a == asset_id) | (ParcelOverlap.asset_b == asset_id))
    lines = []
    for r in rows:
        this, other = ("a", "b") if r["asset_a"] == asset_id else ("b", "a")
        o = _side(r, other)
        lines.append(
            AssetOverlapLine(
                other_ref=o.ref,
                other_kind=o.kind,
                other_status=o.status,
                other_owner_ref=o.owner_ref,
                other_owner_name=o.owner_name,
                overlap_area_m2=round(r["overlap_area_m2"], 2),
                share_of_this=ratio(r[f"share_of_{this}"]),
                share_of_other=ratio(r[f"share_of_{other}"]),
                detected_at=r["detected_at"],
            )
        )
    lines.sort(key=lambda line: (-float(line.share_of_this), line.other_ref))
    return lines


async def double_pledge_asset_ids() -> set[int]:
    """Ids of every asset flagged "possible double pledge" (for the coverage engine's flags)."""
    rows = await ParcelOverlap.select(ParcelOverlap.asset_a, ParcelOverlap.asset_b)
    return parcel_geometry.double_pledge_ids((r["asset_a"], r["asset_b"]) for r in rows)
