"""Parties: borrowers, owners and guarantors."""

from __future__ import annotations

from typing import Any

from registry import audit, clock
from registry.db import write_transaction
from registry.errors import FieldErrors
from registry.roles import PII_READERS, Role
from registry.schemas.common import Page, Paging
from registry.schemas.parties import PartyCreate, PartyRead, PartyUpdate
from registry.services import common
from registry.tables import Party


def mask_id_number(id_number: str | None, role: Role) -> str | None:
    if id_number is None or role in PII_READERS:
        return id_number
    # Enough to tell two parties apart on a screen, not enough to impersonate one.
    return "*" * max(len(id_number) - 4, 0) + id_number[-4:]


AUDITED = ("ref", "name", "kind", "id_number", "status")


def to_read(row: dict[str, Any], role: Role) -> PartyRead:
    return common.read_model(PartyRead, row, id_number=mask_id_number(row["id_number"], role))


async def create_party(data: PartyCreate, actor: str, role: Role) -> PartyRead:
    errors = FieldErrors()
    common.check_ref(errors, "ref", data.ref)
    name = common.check_text(errors, "name", data.name, 255)
    errors.raise_if_any()
    async with write_transaction():
        await common.ensure_ref_free(Party, data.ref, "party")
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
        await audit.record(actor, "party", data.ref, "create", after=common.audit_view(row, AUDITED))
    return to_read(row, role)


async def get_party_row(ref: str) -> dict[str, Any]:
    return await common.row_or_404(Party.select().where(Party.ref == ref), "party", ref)


async def get_party(ref: str, role: Role) -> PartyRead:
    return to_read(await get_party_row(ref), role)


async def list_parties(
    paging: Paging, role: Role, *, q: str | None = None, kind: str | None = None, status: str | None = None
) -> Page[PartyRead]:
    where = []
    if q:
        where.append(common.contains(Party.ref, q) | common.contains(Party.name, q))
    if kind:
        where.append(Party.kind == kind)
    if status:
        where.append(Party.status == status)
    total = await Party.count().where(*where)
    rows = await Party.select().where(*where).order_by(Party.ref).limit(paging.page_size).offset(paging.offset)
    return Page([to_read(r, role) for r in rows], total, paging.page, paging.page_size)


async def update_party(ref: str, data: PartyUpdate, actor: str, role: Role) -> PartyRead:
    changes = common.set_fields(data)
    errors = FieldErrors()
    if "name" in changes:
        changes["name"] = common.check_text(errors, "name", changes["name"], 255)
    errors.raise_if_any()
    async with write_transaction():
        await common.lock_by_ref(Party, ref, "party")
        before = await get_party_row(ref)
        changes = common.actual_changes(before, changes)
        if changes:
            await Party.update(changes).where(Party.id == before["id"])
            after = {**before, **changes}
            await common.record_update(actor, "party", ref, before, after, AUDITED)
        else:
            after = before
    return to_read(after, role)
