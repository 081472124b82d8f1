"""Assets: the pledged and mortgaged things, their identifiers and parcel geometry."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry import audit, clock
from registry.audit import AuditEntry
from registry.db import lock_rows, write_transaction
from registry.errors import FieldErrors, InvalidInputError, NotFoundError
from registry.geometry import GeometryError, check_parcel
from registry.schemas.assets import ASSET_STATUSES, PARCEL_KINDS, AssetCreate, AssetDetail, AssetRead, AssetUpdate
from registry.schemas.common import Page, Paging
from registry.services import common, parcel_overlaps
from registry.services.liens import lien_lines_for_asset
from registry.tables import Asset, Party

AUDITED = ("ref", "kind", "owner_ref", "description", "address", "identifiers", "geometry", "status")


def _check_geometry(errors: FieldErrors, kind: str, geometry: dict[str, Any] | None) -> str | None:
    if geometry is None:
        return None
    if kind not in PARCEL_KINDS:
        # Parcels belong to land and buildings; a drawn polygon on a car is a data error, not a feature.
        errors.add("geometry", f"only real_estate and land_use_right assets have a parcel, not {kind}")
        return None
    try:
        return json.dumps(check_parcel(geometry), separators=(",", ":"))
    except GeometryError as exc:
        errors.add("geometry", str(exc))
        return None


def _check_identifiers(errors: FieldErrors, identifiers: dict[str, str]) -> str:
    for key, value in identifiers.items():
        common.check_text(errors, f"identifiers.{key}", value, 128)
    return json.dumps(identifiers, sort_keys=True, ensure_ascii=False)


def to_read(row: dict[str, Any]) -> AssetRead:
    return common.read_model(
        AssetRead,
        row,
        identifiers=json.loads(row["identifiers"] or "{}"),
        geometry=json.loads(row["geometry"]) if row["geometry"] else None,
    )


def _select() -> Any:
    return Asset.select(
        *Asset.all_columns(), Asset.owner.ref.as_alias("owner_ref"), Asset.owner.name.as_alias("owner_name")
    )


async def asset_row(ref: str) -> dict[str, Any]:
    return await common.row_or_404(_select().where(Asset.ref == ref), "asset", ref)


async def _refresh_flags(rows: Iterable[Mapping[str, Any]], actor: str) -> None:
    """Rebuild the overlap flags of each asset that has (or had) a parcel. A parcel drawn or moved, or an
    asset that left or rejoined the pledge book (its status), may now overlap other parcels, or no longer."""
    for row in rows:
        if row["geometry"]:
            await parcel_overlaps.refresh_overlaps(row["id"], actor)


async def create_asset(data: AssetCreate, actor: str) -> AssetRead:
    errors = FieldErrors()
    common.check_ref(errors, "ref", data.ref)
    geometry = _check_geometry(errors, data.kind, data.geometry)
    identifiers = _check_identifiers(errors, data.identifiers)
    description = common.check_text(errors, "description", data.description, 4000, required=False)
    address = common.check_text(errors, "address", data.address, 4000, required=False)
    errors.raise_if_any()
    async with write_transaction():
        owner_id = await common.id_for_ref(Party, data.owner_ref, "party", "owner_ref")
        await common.ensure_ref_free(Asset, data.ref, "asset")
        row: dict[str, Any] = {
            "ref": data.ref,
            "kind": data.kind,
            "owner": owner_id,
            "description": description,
            "address": address,
            "identifiers": identifiers,
            "geometry": geometry,
            "status": data.status,
            "created_at": clock.now(),
            **parcel_overlaps.measure_columns(geometry),
        }
        result = await Asset.insert(Asset(**row)).returning(Asset.id)
        row["id"] = result[0]["id"]
        created = await asset_row(data.ref)
        await audit.record(actor, "asset", data.ref, "create", after=common.audit_view(created, AUDITED))
        await _refresh_flags([row], actor)
    return to_read(created)


async def get_asset(ref: str) -> AssetDetail:
    row = await asset_row(ref)
    base = to_read(row)
    liens = await lien_lines_for_asset(row["id"])
    loans = sorted({loan for lien in liens if lien.rank is not None for loan in lien.loan_refs})
    return AssetDetail(
        **{f: getattr(base, f) for f in base.__struct_fields__},
        liens=liens,
        loans_secured=loans,
        parcel=parcel_overlaps.measures_read(row),
        overlaps=await parcel_overlaps.overlaps_for_asset(row["id"]),
    )


async def list_assets(
    paging: Paging,
    *,
    q: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    owner_ref: str | None = None,
) -> Page[AssetRead]:
    where = []
    if q:
        where.append(
            common.contains(Asset.ref, q)
            | common.contains(Asset.description, q)
            | common.contains(Asset.address, q)
            | common.contains(Asset.identifiers, q)
            | common.contains(Asset.owner.name, q)
        )
    if kind:
        where.append(Asset.kind == kind)
    if status:
        where.append(Asset.status == status)
    if owner_ref:
        where.append(Asset.owner.ref == owner_ref)
    total = await Asset.count().where(*where)
    rows = await _select().where(*where).order_by(Asset.ref).limit(paging.page_size).offset(paging.offset)
    return Page([to_read(r) for r in rows], total, paging.page, paging.page_size)


async def update_asset(ref: str, data: AssetUpdate, actor: str) -> AssetRead:
    changes = common.set_fields(data)
    async with write_transaction():
        await common.lock_by_ref(Asset, ref, "asset")
        before = await asset_row(ref)
        errors = FieldErrors()
        if "geometry" in changes:
            changes["geometry"] = _check_geometry(errors, before["kind"], changes["geometry"])
        if "identifiers" in changes:
            changes["identifiers"] = _check_identifiers(errors, changes["identifiers"])
        for field in ("description", "address"):
            if field in changes:
                changes[field] = common.check_text(errors, field, changes[field], 4000, required=False)
        errors.raise_if_any()
        changes = common.actual_changes(before, changes)
        parcel_changed = "geometry" in changes or "status" in changes
        if changes:
            measures = parcel_overlaps.measure_columns(changes["geometry"]) if "geometry" in changes else {}
            await Asset.update({**changes, **measures}).where(Asset.id == before["id"])
            after = await asset_row(ref)
            await common.record_update(actor, "asset", ref, before, after, AUDITED)
            if parcel_changed:
                await _refresh_flags([after if after["geometry"] else before], actor)
        else:
            after = before
    return to_read(after)


async def set_asset_status(asset_ids: Sequence[int], status: str, actor: str, *, memo: str) -> dict[int, str]:
    """Set the status of assets in the caller's write transaction (a disposal settlement's; one is opened
    if there is none); each asset's previous status. Each asset whose status changes gets one audit event
    (action "status", with the memo) and, if it has a parcel, fresh overlap flags, as update_asset does."""
    if status not in ASSET_STATUSES:
        raise InvalidInputError.one("status", f"unknown asset status {status!r}; one of {', '.join(ASSET_STATUSES)}")
    ids = list(dict.fromkeys(asset_ids))
    async with write_transaction():
        rows = {r["id"]: r for r in await lock_rows(Asset, sorted(ids), ("id", "ref", "status", "geometry"))}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise NotFoundError("asset", missing[0])
        moved = [rows[i] for i in ids if rows[i]["status"] != status]
        if moved:
            await Asset.update({Asset.status: status}).where(Asset.id.is_in([r["id"] for r in moved]))
            events = [
                AuditEntry("asset", r["ref"], "status", {"status": r["status"]}, {"status": status, "memo": memo})
                for r in moved
            ]
            await audit.record_many(actor, events)
            await _refresh_flags(moved, actor)
    return {i: rows[i]["status"] for i in ids}
