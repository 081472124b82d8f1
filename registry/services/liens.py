"""Liens: mortgages and pledges on one asset, their secured loans, registration and priority."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from registry import audit, clock
from registry.audit import AuditEntry
from registry.db import lock_rows, write_transaction
from registry.errors import FieldErrors, InvalidInputError, NotFoundError, StateConflictError
from registry.money import money_or_none
from registry.ranking import RankInput, rank_liens
from registry.registration import ALLOWED_MOVES, RefusedMove, RegistrationStatus, move
from registry.schemas.assets import AssetLienLine
from registry.schemas.common import Page, Paging
from registry.schemas.liens import LienCreate, LienRead, LienUpdate, RegistrationMove
from registry.services import common
from registry.tables import Asset, Lien, LienLoan, Loan

OWN = "own"
AUDITED = (
    "ref",
    "asset_ref",
    "kind",
    "holder",
    "currency",
    "cap",
    "external_claim",
    "authority",
    "registration_number",
    "status",
    "perfected_at",
    "expires_on",
)


def _select() -> Any:
    return Lien.select(*Lien.all_columns(), Lien.asset.ref.as_alias("asset_ref"))


async def _lien_row(ref: str) -> dict[str, Any]:
    return await common.row_or_404(_select().where(Lien.ref == ref), "lien", ref)


async def _locked_lien_row(ref: str) -> dict[str, Any]:
    """Read a lien for changing it: locked first, so the state checked is the state changed."""
    await common.lock_by_ref(Lien, ref, "lien")
    return await _lien_row(ref)


async def _loan_refs(lien_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if lien_ids:
        rows = (
            await LienLoan.select(LienLoan.lien, LienLoan.loan.ref.as_alias("loan_ref"))
            .where(LienLoan.lien.is_in(lien_ids))
            .order_by(LienLoan.loan.ref)
        )
        for r in rows:
            out[r["lien"]].append(r["loan_ref"])
    return out


async def _ranks_on_asset(asset_id: int) -> tuple[list[dict[str, Any]], dict[str, int | None]]:
    rows = await _select().where(Lien.asset == asset_id)
    ranks = rank_liens(RankInput(r["ref"], RegistrationStatus(r["status"]), r["perfected_at"]) for r in rows)
    return rows, ranks


def _to_read(row: dict[str, Any], rank: int | None, loan_refs: list[str]) -> LienRead:
    return common.read_model(
        LienRead,
        row,
        cap=money_or_none(row["cap"], row["currency"]),
        external_claim=money_or_none(row["external_claim"], row["currency"]),
        rank=rank,
        loan_refs=loan_refs,
        allowed_moves=[s.value for s in ALLOWED_MOVES[RegistrationStatus(row["status"])]],
    )


def _rank_sort_key(line: AssetLienLine) -> tuple[int, float, str]:
    # Ranked liens first by rank; liens that no longer count (no rank) after them.
    stamp = line.perfected_at.timestamp() if line.perfected_at else 0.0
    return (line.rank if line.rank is not None else 1_000_000, stamp, line.ref)


async def lien_lines_for_asset(asset_id: int) -> list[AssetLienLine]:
    rows, ranks = await _ranks_on_asset(asset_id)
    loans = await _loan_refs([r["id"] for r in rows])
    lines = [
        AssetLienLine(
            ref=r["ref"],
            kind=r["kind"],
            holder=r["holder"],
            status=r["status"],
            rank=ranks[r["ref"]],
            perfected_at=r["perfected_at"],
            expires_on=r["expires_on"],
            currency=r["currency"],
            cap=money_or_none(r["cap"], r["currency"]),
            external_claim=money_or_none(r["external_claim"], r["currency"]),
            loan_refs=loans[r["id"]],
        )
        for r in rows
    ]
    return sorted(lines, key=_rank_sort_key)


def _check_holder_fields(
    errors: FieldErrors, holder: str, loan_refs: list[str], external_claim: int | None, external_claim_given: bool
) -> None:
    if holder == OWN:
        if external_claim_given:
            errors.add(
                "external_claim",
                "an own lien's claim comes from its loans; external_claim is for another creditor's lien",
            )
    else:
        if loan_refs:
            errors.add("loan_refs", "another creditor's lien secures no loans of ours")
        if external_claim is None and not external_claim_given:
            errors.add("external_claim", "required for another creditor's lien")


async def _loan_ids(loan_refs: list[str]) -> list[int]:
    if len(set(loan_refs)) != len(loan_refs):
        raise InvalidInputError.one("loan_refs", "a loan is listed twice")
    return [await common.id_for_ref(Loan, ref, "loan", "loan_refs") for ref in loan_refs]


def _audit_view(row: dict[str, Any], loan_refs: list[str]) -> dict[str, Any]:
    return {**common.audit_view(row, AUDITED), "loan_refs": loan_refs}


async def create_lien(data: LienCreate, actor: str) -> LienRead:
    await write_lien(data, actor)
    return await get_lien(data.ref)


async def write_lien(data: LienCreate, actor: str) -> None:
    """create_lien without reading the new lien back (its ranks, loans and coverage flags): for a caller writing
    hundreds that needs none of them, the demo."""
    errors = FieldErrors()
    common.check_ref(errors, "ref", data.ref)
    currency = common.check_currency(errors, "currency", data.currency)
    cap = common.check_amount(errors, "cap", data.cap, currency)
    external = common.check_amount(errors, "external_claim", data.external_claim, currency)
    holder = data.holder.strip()
    if not holder or len(holder) > 255:
        errors.add("holder", '"own" or the other creditor\'s name (1-255 characters)')
    elif reason := common.hidden_character(holder):
        errors.add("holder", reason)
    else:
        _check_holder_fields(errors, holder, data.loan_refs, external, data.external_claim is not None)
    authority = common.check_text(errors, "authority", data.authority, 255, required=False)
    registration_number = common.check_text(
        errors, "registration_number", data.registration_number, 128, required=False
    )
    common.check_dates(errors, data, "expires_on")
    errors.raise_if_any()
    async with write_transaction():
        asset_id = await common.id_for_ref(Asset, data.asset_ref, "asset", "asset_ref")
        loan_ids = await _loan_ids(data.loan_refs)
        await common.ensure_ref_free(Lien, data.ref, "lien")
        row: dict[str, Any] = {
            "ref": data.ref,
            "asset": asset_id,
            "kind": data.kind,
            "holder": holder,
            "currency": data.currency,
            "cap": cap,
            "external_claim": external,
            "authority": authority,
            "registration_number": registration_number,
            "status": RegistrationStatus.DRAFT.value,
            "perfected_at": None,
            "expires_on": data.expires_on,
            "created_at": clock.now(),
        }
        result = await Lien.insert(Lien(**row)).returning(Lien.id)
        lien_id = result[0]["id"]
        if loan_ids:
            await LienLoan.insert(*(LienLoan(lien=lien_id, loan=i) for i in loan_ids))
        await audit.record(
            actor,
            "lien",
            data.ref,
            "create",
            after=_audit_view({**row, "asset_ref": data.asset_ref}, sorted(data.loan_refs)),
        )


async def get_lien(ref: str) -> LienRead:
    row = await _lien_row(ref)
    _, ranks = await _ranks_on_asset(row["asset"])
    return _to_read(row, ranks[ref], (await _loan_refs([row["id"]]))[row["id"]])


async def list_liens(
    paging: Paging,
    *,
    asset_ref: str | None = None,
    status: str | None = None,
    holder: str | None = None,
    loan_ref: str | None = None,
) -> Page[LienRead]:
    where = []
    if asset_ref:
        where.append(Lien.asset.ref == asset_ref)
    if status:
        where.append(Lien.status == status)
    if holder:
        where.append(Lien.holder == holder)
    if loan_ref:
        where.append(Lien.id.is_in(LienLoan.select(LienLoan.lien).where(LienLoan.loan.ref == loan_ref)))
    total = await Lien.count().where(*where)
    rows = await _select().where(*where).order_by(Lien.ref).limit(paging.page_size).offset(paging.offset)
    loans = await _loan_refs([r["id"] for r in rows])
    ranks: dict[str, int | None] = {}
    for asset_id in {r["asset"] for r in rows}:
        ranks.update((await _ranks_on_asset(asset_id))[1])
    return Page([_to_read(r, ranks[r["ref"]], loans[r["id"]]) for r in rows], total, paging.page, paging.page_size)


async def update_lien(ref: str, data: LienUpdate, actor: str) -> LienRead:
    changes = common.set_fields(data)
    async with write_transaction():
        before = await _locked_lien_row(ref)
        before_loans = (await _loan_refs([before["id"]]))[before["id"]]
        status = RegistrationStatus(before["status"])
        if status not in (RegistrationStatus.DRAFT, RegistrationStatus.SUBMITTED, RegistrationStatus.REGISTERED):
            raise StateConflictError(
                f"a {status.value} lien can no longer be changed", current=status.value, allowed=[]
            )
        errors = FieldErrors()
        for field in ("cap", "external_claim"):
            if field in changes:
                changes[field] = common.check_amount(errors, field, changes[field], before["currency"])
        loan_refs = changes.pop("loan_refs", before_loans)
        if loan_refs != before_loans and status is not RegistrationStatus.DRAFT:
            # The filed registration names the secured debts; changing them means a new filing.
            errors.add("loan_refs", f"secured loans can change only while the lien is draft, not {status.value}")
        _check_holder_fields(
            errors,
            before["holder"],
            loan_refs,
            changes.get("external_claim", before["external_claim"]),
            ("external_claim" in changes and changes["external_claim"] is not None)
            or before["external_claim"] is not None,
        )
        for field, max_len in (("authority", 255), ("registration_number", 128)):
            if field in changes:
                changes[field] = common.check_text(errors, field, changes[field], max_len, required=False)
        common.check_dates(errors, data, "expires_on")
        errors.raise_if_any()
        changes = common.actual_changes(before, changes)
        if changes:
            await Lien.update(changes).where(Lien.id == before["id"])
        if sorted(loan_refs) != before_loans:
            loan_ids = await _loan_ids(loan_refs)
            await LienLoan.delete().where(LienLoan.lien == before["id"])
            if loan_ids:
                await LienLoan.insert(*(LienLoan(lien=before["id"], loan=i) for i in loan_ids))
        if changes or sorted(loan_refs) != before_loans:
            await audit.record(
                actor,
                "lien",
                ref,
                "update",
                before=_audit_view(before, before_loans),
                after=_audit_view({**before, **changes}, sorted(loan_refs)),
            )
    return await get_lien(ref)


def _moved(status: str, to: str, ref: str | None = None) -> RegistrationStatus:
    """The registration status a move reaches, or 409 with the current status and the allowed moves."""
    current = RegistrationStatus(status)
    try:
        return move(current, to)
    except RefusedMove as exc:
        detail = f"lien {ref}: {exc}" if ref else str(exc)
        raise StateConflictError(detail, current=current.value, allowed=exc.allowed) from None


async def move_registration(ref: str, data: RegistrationMove, actor: str) -> LienRead:
    await apply_move(ref, data, actor)
    return await get_lien(ref)


async def apply_move(ref: str, data: RegistrationMove, actor: str) -> None:
    """move_registration without reading the lien back afterwards (see write_lien)."""
    await apply_moves(ref, [data], actor)


async def apply_moves(ref: str, moves: Sequence[RegistrationMove], actor: str) -> None:
    """One lien's registration moves in order, in one write: each checked against the state the one before it
    left, one update with the end state, an audit event per move. All or nothing. The demo files its liens'
    whole histories this way (a write per move cost it a third of its load)."""
    errors = FieldErrors()
    for data in moves:
        common.check_dates(errors, data, "expires_on", "perfected_at")
    errors.raise_if_any()
    async with write_transaction():
        before = await _locked_lien_row(ref)
        loans = (await _loan_refs([before["id"]]))[before["id"]]
        state, changed, events = dict(before), dict[Any, Any](), list[AuditEntry]()
        for data in moves:
            target = _moved(state["status"], data.to)
            changes: dict[Any, Any] = {"status": target.value}
            for field in ("registration_number", "authority", "expires_on"):
                if getattr(data, field) is not None:
                    changes[field] = getattr(data, field)
            if target is RegistrationStatus.REGISTERED:
                await _check_registrable(state, data, changes)
            after = {**state, **changes}
            events.append(
                AuditEntry(
                    "lien",
                    ref,
                    f"registration:{target.value}",
                    before=_audit_view(state, loans),
                    after=_audit_view(after, loans),
                )
            )
            state, changed = after, {**changed, **changes}
        if changed:
            await Lien.update(changed).where(Lien.id == before["id"])
        await audit.record_many(actor, events)


async def _check_registrable(before: dict[str, Any], data: RegistrationMove, changes: dict[str, Any]) -> None:
    errors = FieldErrors()
    if not (changes.get("registration_number") or before["registration_number"]):
        errors.add("registration_number", "a registered lien needs the registration number the authority issued")
    perfected_at = data.perfected_at or clock.now()
    if perfected_at.tzinfo is None:
        errors.add("perfected_at", "must carry a UTC offset")
    elif perfected_at > clock.now():
        errors.add("perfected_at", "cannot be in the future")
    if before["holder"] == OWN and not await LienLoan.exists().where(LienLoan.lien == before["id"]):
        errors.add("loan_refs", "an own lien must secure at least one loan before it is registered")
    errors.raise_if_any()
    changes["perfected_at"] = perfected_at


async def release_liens(lien_ids: Sequence[int], actor: str, *, memo: str) -> None:
    """Release liens in the caller's write transaction (a disposal settlement's; one is opened if there
    is none): each moves through the registration state machine to released, or the whole call is 409
    naming the lien, its status and its allowed moves. One audit event per lien, the memo in its after.
    A lien named twice is released once."""
    ids = list(dict.fromkeys(lien_ids))
    if not ids:
        return
    async with write_transaction():
        found = {r["id"] for r in await lock_rows(Lien, sorted(ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError("lien", missing[0])
        rows = {r["id"]: dict(r) for r in await _select().where(Lien.id.is_in(ids))}
        loans = await _loan_refs(ids)
        events = []
        for lien_id in ids:
            before = rows[lien_id]
            target = _moved(before["status"], RegistrationStatus.RELEASED.value, before["ref"])
            after = {**_audit_view({**before, "status": target.value}, loans[lien_id]), "memo": memo}
            events.append(
                AuditEntry(
                    "lien", before["ref"], f"registration:{target.value}", _audit_view(before, loans[lien_id]), after
                )
            )
        await Lien.update({Lien.status: RegistrationStatus.RELEASED.value}).where(Lien.id.is_in(ids))
        await audit.record_many(actor, events)
