"""Parties: borrowers, owners and guarantors."""

from __future__ import annotations

from typing import Any

from registry import audit, clock
from registry.db import write_transaction
from registry.errors import NotFoundError
from registry.roles import PII_READERS, Role
from registry.schemas.common import Page, Paging
from registry.schemas.parties import PartyCreate, PartyRead, PartyUpdate
from registry.services.common import check_ref, check_text, contains, ensure_ref_free, lock_by_ref, set_fields
from registry.tables import Party


def mask_id_number(id_number: str | None, role: Role) -> str | None:
    if id_number is None or role in PII_READERS:
        return id_number
    # Enough to tell two parties apart on a screen, not enough to impersonate one.
    return "*" * max(len(id_number) - 4, 0) + id_number[-4:]


def to_read(row: dict[str, Any], role: Role) -> PartyRead:
    return PartyRead(
        id=row["id"],
        ref=row["ref"],
        name=row["name"],
        kind=row["kind"],
        id_number=mask_id_number(row["id_number"], role),
        status=row["status"],
        created_at=row["created_at"],
    )


def _audit_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("ref", "name", "kind", "id_number", "status")}


async def create_party(data: PartyCreate, actor: str, role: Role) -> PartyRead:
    check_ref("ref", data.ref)
    name = check_text("name", data.name, 255)
    async with write_transaction():
        await ensure_ref_free(Party, data.ref, "party")
        row: dict[str, Any] = {
            "ref": data.ref,
            "name": name,
            "kind": data.kind,
            "id_number": data.id_number,
            "status": data.status,
            "created_at": clock.now(),
        }
        result = await Party.insert(Party(**row)).returning(Party.id)
        row["id"] = result[0]["id"]
        await audit.record(actor, "party", data.ref, "create", after=_audit_view(row))
    return to_read(row, role)


async def get_party_row(ref: str) -> dict[str, Any]:
    row = await Party.select().where(Party.ref == ref).first()
    if row is None:
        raise NotFoundError("party", ref)
    return row


async def get_party(ref: str, role: Role) -> PartyRead:
    return to_read(await get_party_row(ref), role)


async def list_parties(
    paging: Paging, role: Role, *, q: str | None = None, kind: str | None = None, status: str | None = None
) -> Page[PartyRead]:
    where = []
    if q:
        where.append(contains(Party.ref, q) | contains(Party.name, q))
    if kind:
        where.append(Party.kind == kind)
    if status:
        where.append(Party.status == status)
    total = await Party.count().where(*where)
    rows = await Party.select().where(*where).order_by(Party.ref).limit(paging.page_size).offset(paging.offset)
    return Page([to_read(r, role) for r in rows], total, paging.page, paging.page_size)


async def update_party(ref: str, data: PartyUpdate, actor: str, role: Role) -> PartyRead:
    changes = set_fields(data)
    if "name" in changes:
        changes["name"] = check_text("name", changes["name"], 255)
    async with write_transaction():
        await lock_by_ref(Party, ref, "party")
        before = await get_party_row(ref)
        if changes:
            await Party.update(changes).where(Party.id == before["id"])
            after = {**before, **changes}
            await audit.record(actor, "party", ref, "update", before=_audit_view(before), after=_audit_view(after))
        else:
            after = before
    return to_read(after, role)
