"""Valuations: submitted by one user, approved or rejected by another (four eyes, DESIGN section 5).

A valuation's life is submitted -> approved | rejected; both ends are final, because coverage and
auction starting prices are computed from approved ones and must stay traceable to what was decided."""

from __future__ import annotations

from typing import Any

from registry import audit, clock
from registry.db import lock_row, write_transaction
from registry.errors import DomainError, FieldErrors, StateConflictError
from registry.money import format_amount, money_or_none
from registry.schemas.common import Page, Paging
from registry.services.common import (
    audit_view,
    check_amount,
    check_currency,
    check_dates,
    check_text,
    id_for_ref,
    read_model,
    row_or_404,
)
from registry.tables import Asset
from valuation.schemas import ValuationRead, ValuationReject, ValuationSubmit
from valuation.tables import Valuation

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"
ALLOWED_MOVES: dict[str, tuple[str, ...]] = {SUBMITTED: (APPROVED, REJECTED), APPROVED: (), REJECTED: ()}


class FourEyesError(DomainError):
    """The submitter of a valuation tried to approve it: the decision needs a second person."""

    status_code = 403
    title = "Four eyes"


def _select() -> Any:
    va: Any = Valuation.asset
    return Valuation.select(*Valuation.all_columns(), va.ref.as_alias("asset_ref"), va.kind.as_alias("asset_kind"))


AUDITED = (
    "asset_ref",
    "valued_on",
    "market_value",
    "forced_sale_value",
    "currency",
    "method",
    "appraiser",
    "status",
    "submitted_by",
    "decided_by",
    "reason",
)


def to_read(row: dict[str, Any]) -> ValuationRead:
    currency = row["currency"]
    return read_model(
        ValuationRead,
        row,
        market_value=format_amount(row["market_value"], currency),
        forced_sale_value=money_or_none(row["forced_sale_value"], currency),
        allowed_moves=list(ALLOWED_MOVES.get(row["status"], ())),
    )


async def _row(valuation_id: int) -> dict[str, Any]:
    return await row_or_404(_select().where(Valuation.id == valuation_id), "valuation", valuation_id)


def _amounts(data: ValuationSubmit, errors: FieldErrors) -> tuple[int | None, int | None]:
    currency = check_currency(errors, "currency", data.currency)
    market = check_amount(errors, "market_value", data.market_value, currency)
    forced = check_amount(errors, "forced_sale_value", data.forced_sale_value, currency)
    if market is not None and forced is not None and forced > market:
        # A forced sale fetches less than an orderly one; more is a typing error, not an appraisal.
        errors.add("forced_sale_value", "must not exceed market_value")
    return market, forced


async def submit(data: ValuationSubmit, actor: str) -> ValuationRead:
    errors = FieldErrors()
    market, forced = _amounts(data, errors)
    check_dates(errors, data, "valued_on")
    if data.valued_on > clock.today():
        errors.add("valued_on", f"{data.valued_on} is in the future; a valuation dates from its inspection")
    appraiser = data.appraiser.strip()
    if not appraiser:
        errors.add("appraiser", "must not be empty: name the appraiser or firm")
    errors.raise_if_any()
    async with write_transaction():
        asset_id = await id_for_ref(Asset, data.asset_ref, "asset", "asset_ref")
        existing = (
            await Valuation.select(Valuation.id, Valuation.status)
            .where(Valuation.asset == asset_id, Valuation.valued_on == data.valued_on, Valuation.method == data.method)
            .first()
        )
        if existing is not None:
            raise StateConflictError(
                f"asset {data.asset_ref!r} already has a {data.method} valuation on {data.valued_on} "
                f"(id {existing['id']}, {existing['status']}); one appraisal per asset, date and method"
            )
        row: dict[str, Any] = {
            "asset": asset_id,
            "valued_on": data.valued_on,
            "market_value": market,
            "forced_sale_value": forced,
            "currency": data.currency,
            "method": data.method,
            "appraiser": appraiser,
            "status": SUBMITTED,
            "submitted_by": actor,
            "submitted_at": clock.now(),
            "decided_by": None,
            "decided_at": None,
            "reason": "",
        }
        inserted = await Valuation.insert(Valuation(**row)).returning(Valuation.id)
        valuation_id = int(inserted[0]["id"])
        await audit.record(
            actor,
            "valuation",
            str(valuation_id),
            "submit",
            after=audit_view({**row, "asset_ref": data.asset_ref}, AUDITED),
        )
    return await get_valuation(valuation_id)


async def count_waiting() -> int:
    """Valuations submitted and waiting for a second pair of eyes."""
    return int(await Valuation.count().where(Valuation.status == SUBMITTED))


async def latest_approved(asset_refs: list[str]) -> dict[str, ValuationRead]:
    """Each asset's latest approved valuation, in one read: what a waiting revaluation would replace."""
    if not asset_refs:
        return {}
    rows = (
        await _select()
        .where((Valuation.status == APPROVED) & Valuation.asset.ref.is_in(asset_refs))
        .order_by(Valuation.valued_on, Valuation.id, ascending=False)
    )
    latest: dict[str, ValuationRead] = {}
    for row in rows:
        read = to_read(row)
        latest.setdefault(read.asset_ref, read)
    return latest


async def get_valuation(valuation_id: int) -> ValuationRead:
    return to_read(await _row(valuation_id))


async def list_valuations(
    paging: Paging, *, status: str | None = None, asset_ref: str | None = None
) -> Page[ValuationRead]:
    """Oldest submission first: the list is a work queue when filtered to `submitted`."""
    where = []
    if status:
        where.append(Valuation.status == status)
    if asset_ref:
        where.append(Valuation.asset.ref == asset_ref)
    total = await Valuation.count().where(*where)
    rows = (
        await _select()
        .where(*where)
        .order_by(Valuation.submitted_at, Valuation.id)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    return Page([to_read(r) for r in rows], total, paging.page, paging.page_size)


async def history(asset_ref: str, paging: Paging) -> Page[ValuationRead]:
    """Every valuation of one asset, whatever its status, newest valuation date first."""
    asset_id = await id_for_ref(Asset, asset_ref, "asset")
    total = await Valuation.count().where(Valuation.asset == asset_id)
    rows = (
        await _select()
        .where(Valuation.asset == asset_id)
        .order_by(Valuation.valued_on, Valuation.id, ascending=False)
        .limit(paging.page_size)
        .offset(paging.offset)
    )
    return Page([to_read(r) for r in rows], total, paging.page, paging.page_size)


async def _decide(valuation_id: int, to: str, actor: str, reason: str) -> ValuationRead:
    async with write_transaction():
        await _row(valuation_id)  # 404 before taking a lock on nothing
        await lock_row(Valuation, valuation_id)
        before = await _row(valuation_id)
        current = before["status"]
        allowed = ALLOWED_MOVES.get(current, ())
        if to not in allowed:
            raise StateConflictError(
                f"valuation {valuation_id} is {current}; it cannot become {to}. "
                f"Allowed: {', '.join(allowed) or 'none (a decided valuation is final)'}",
                current=current,
                allowed=allowed,
            )
        if to == APPROVED and before["submitted_by"] == actor:
            raise FourEyesError(
                f"four eyes: {actor} submitted valuation {valuation_id}, so another user must approve it"
            )
        now = clock.now()
        await Valuation.update(
            {Valuation.status: to, Valuation.decided_by: actor, Valuation.decided_at: now, Valuation.reason: reason}
        ).where(Valuation.id == valuation_id)
        after = {**before, "status": to, "decided_by": actor, "reason": reason}
        await audit.record(
            actor,
            "valuation",
            str(valuation_id),
            "approve" if to == APPROVED else "reject",
            before=audit_view(before, AUDITED),
            after=audit_view(after, AUDITED),
        )
    return await get_valuation(valuation_id)


async def approve(valuation_id: int, actor: str) -> ValuationRead:
    return await _decide(valuation_id, APPROVED, actor, "")


async def reject(valuation_id: int, data: ValuationReject, actor: str) -> ValuationRead:
    errors = FieldErrors()
    reason = data.reason.strip()
    if not reason:
        errors.add("reason", "say why the valuation is rejected")
    reason = check_text(errors, "reason", reason, 4000, required=False)
    errors.raise_if_any()
    return await _decide(valuation_id, REJECTED, actor, reason)
