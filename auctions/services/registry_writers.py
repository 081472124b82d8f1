"""TEMPORARY: stand-ins for the registry's public in-transaction writers (issue 9 item 1) until they land;
same names and signatures, so switching is an import change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from registry import audit, clock
from registry.db import lock_row, write_transaction
from registry.errors import InvalidInputError, StateConflictError
from registry.registration import RefusedMove, RegistrationStatus, move
from registry.services import parcels
from registry.services.loans import COMPONENTS, balances_for
from registry.tables import Asset, Lien, Loan, Posting


@dataclass(frozen=True)
class LedgerEntry:
    loan_id: int
    kind: str
    deltas: Mapping[str, int]
    value_date: date
    memo: str


async def post_entries(entries: Sequence[LedgerEntry], actor: str) -> list[int]:
    async with write_transaction():
        loan_ids = sorted({e.loan_id for e in entries})
        for i in loan_ids:
            await lock_row(Loan, i)
        balances = await balances_for(loan_ids)
        refs = {r["id"]: r["ref"] for r in await Loan.select(Loan.id, Loan.ref).where(Loan.id.is_in(loan_ids))}
        ids: list[int] = []
        for n, e in enumerate(entries):
            deltas = {c: e.deltas.get(c, 0) for c in COMPONENTS}
            for c in COMPONENTS:
                balances[e.loan_id][c] += deltas[c]
                if balances[e.loan_id][c] < 0:
                    raise InvalidInputError.one(f"entries[{n}].{c}", f"would take {c} below zero")
            row: dict[str, Any] = {
                "loan": e.loan_id,
                "kind": e.kind,
                **deltas,
                "value_date": e.value_date,
                "memo": e.memo,
                "reverses": None,
                "posted_by": actor,
                "posted_at": clock.now(),
            }
            pid = (await Posting.insert(Posting(**row)).returning(Posting.id))[0]["id"]
            ids.append(pid)
            await audit.record(
                actor,
                "loan",
                refs[e.loan_id],
                f"posting:{e.kind}",
                after={"posting_id": pid, **deltas, "value_date": e.value_date, "memo": e.memo, "reverses": None},
            )
        return ids


async def release_liens(lien_ids: Sequence[int], actor: str, *, memo: str) -> None:
    async with write_transaction():
        for lien_id in sorted(lien_ids):
            await lock_row(Lien, lien_id)
            row = await Lien.select(Lien.ref, Lien.status).where(Lien.id == lien_id).first()
            assert row is not None
            current = RegistrationStatus(row["status"])
            try:
                target = move(current, "released")
            except RefusedMove as exc:
                raise StateConflictError(str(exc), current=current.value, allowed=exc.allowed) from None
            await Lien.update({Lien.status: target.value}).where(Lien.id == lien_id)
            await audit.record(
                actor,
                "lien",
                row["ref"],
                "registration:released",
                before={"status": current.value},
                after={"status": target.value, "memo": memo},
            )


async def set_asset_status(asset_ids: Sequence[int], status: str, actor: str, *, memo: str) -> dict[int, str]:
    previous: dict[int, str] = {}
    async with write_transaction():
        for asset_id in sorted(asset_ids):
            await lock_row(Asset, asset_id)
            row = await Asset.select(Asset.ref, Asset.status, Asset.geometry).where(Asset.id == asset_id).first()
            assert row is not None
            previous[asset_id] = row["status"]
            await Asset.update({Asset.status: status}).where(Asset.id == asset_id)
            await audit.record(
                actor,
                "asset",
                row["ref"],
                "status",
                before={"status": row["status"]},
                after={"status": status, "memo": memo},
            )
            if row["geometry"]:
                await parcels.refresh_overlaps(asset_id, actor)
    return previous
