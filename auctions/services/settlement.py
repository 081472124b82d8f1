"""Settlement, exactly once and with four eyes (DESIGN 7): one disposal officer proposes it from a sold or
in-lieu case, another confirms. The confirmation, in one transaction with the case locked: a
`disposal_proceeds` posting per loan carrying each component it paid, the lot's liens released, the assets'
status, the case settled, the surplus owed to the owner and each loan's deficiency kept as lines, the audit
events."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from auctions.rules.case_life import CaseState
from auctions.rules.profiles import profile
from auctions.rules.waterfall import OWN, Expense, ExpensePaid, Line, WaterfallResult
from auctions.schemas.settlement import (
    ProposedExpense,
    SettlementProposal,
    SettlementRead,
    WaterfallRead,
    WaterfallRequest,
)
from auctions.services import case_file
from auctions.services.cases import locked_case
from auctions.services.closing import ENTITY, case_write
from auctions.services.evidence import check_documents
from auctions.services.lot import LotBook, read_lot
from auctions.services.waterfall import AssetInfo, asset_infos, compute, parse_expenses, to_read
from auctions.tables import CaseAsset, DisposalCase, Settlement, SettlementLine
from registry import audit, clock
from registry.db import insert_rows
from registry.errors import FieldErrors, NotFoundError, StateConflictError
from registry.money import format_amount
from registry.registration import RegistrationStatus
from registry.services.assets import set_asset_status
from registry.services.common import check_amount
from registry.services.ledger import LedgerEntry, post_entries
from registry.services.liens import release_liens
from valuation.services.valuations import FourEyesError

PROPOSED, CONFIRMED, SUPERSEDED = "proposed", "confirmed", "superseded"
SETTLEABLE = (CaseState.SOLD.value, CaseState.IN_LIEU.value)


async def _lot(case: dict[str, Any]) -> tuple[LotBook, dict[int, int]]:
    rows = await CaseAsset.select(CaseAsset.asset, CaseAsset.appraisal).where(CaseAsset.case == case["id"])
    appraisals = {r["asset"]: r["appraisal"] for r in rows}
    return await read_lot(list(appraisals)), appraisals


async def preview_for_case(case_ref: str, data: WaterfallRequest) -> WaterfallRead:
    case = await case_file.case_row(case_ref)
    currency = case["currency"]
    prof = profile(case["profile"])
    errors = FieldErrors()
    gross = check_amount(errors, "gross_proceeds", data.gross_proceeds, currency)
    expenses = parse_expenses(data.expenses, currency, errors, gross=gross, profile=prof)
    errors.raise_if_any()
    book, appraisals = await _lot(case)
    order = data.profile or prof.waterfall_order
    result = compute(book, gross=gross or 0, expenses=expenses, appraisals=appraisals, order=order)
    in_lieu = case["state"] == CaseState.IN_LIEU.value
    return to_read(result, asset_infos(book, appraisals), currency=currency, order=order, in_lieu=in_lieu)


def _not_settleable(case: dict[str, Any]) -> StateConflictError:
    if case["state"] in (CaseState.SETTLED.value, CaseState.CLOSED.value):
        return StateConflictError(f"case {case['ref']} is already settled", current=case["state"], allowed=[])
    return StateConflictError(
        f"a settlement follows a sale or taking in lieu; case {case['ref']} is {case['state']}",
        current=case["state"],
        allowed=[],
    )


LINE_COLUMNS = (
    "settlement",
    "kind",
    "asset_ref",
    "lien_ref",
    "holder",
    "rank",
    "loan_ref",
    "component",
    "amount",
    "cash",
)


def _line_rows(settlement_id: int, result: WaterfallResult, book: LotBook, in_lieu: bool) -> list[tuple[Any, ...]]:
    """Every line of the statement as plain rows in LINE_COLUMNS order (a lot under thousands of loans has tens of
    thousands of lines, written in one bulk insert)."""
    owner_of = {a.ref: a.owner_ref for a in book.assets}
    rows: list[tuple[Any, ...]] = [
        (settlement_id, "expense", e.asset_ref, "", "", 0, "", e.kind, e.amount, True) for e in result.expenses_paid
    ]
    rows += [
        (
            settlement_id,
            "allocation",
            line.asset_ref,
            line.lien_ref,
            line.holder,
            line.rank,
            line.loan_ref or "",
            line.component or "",
            line.amount,
            not (in_lieu and line.holder == OWN),
        )
        for line in result.lines
    ]
    rows += [
        (settlement_id, "surplus", ref, "", owner_of.get(ref, ""), 0, "", "", v, True)
        for ref, v in sorted(result.surplus_by_asset.items())
    ]
    rows += [
        (settlement_id, "deficiency", "", "", "", 0, ref, "", v, True) for ref, v in sorted(result.deficiency.items())
    ]
    return rows


def _result_from_lines(gross: int, lines: list[dict[str, Any]]) -> WaterfallResult:
    return WaterfallResult(
        gross=gross,
        expenses_paid=tuple(
            ExpensePaid(r["asset_ref"], r["component"], r["amount"]) for r in lines if r["kind"] == "expense"
        ),
        lines=tuple(
            Line(
                r["asset_ref"],
                r["lien_ref"],
                r["holder"],
                r["rank"],
                r["loan_ref"] or None,
                r["component"] or None,
                r["amount"],
            )
            for r in lines
            if r["kind"] == "allocation"
        ),
        surplus_by_asset={r["asset_ref"]: r["amount"] for r in lines if r["kind"] == "surplus"},
        balances_after={},
        deficiency={r["loan_ref"]: r["amount"] for r in lines if r["kind"] == "deficiency"},
    )


def _fingerprint(result: WaterfallResult) -> list[tuple[Any, ...]]:
    return sorted(
        [("line", x.asset_ref, x.lien_ref, x.loan_ref or "", x.component or "", x.amount) for x in result.lines]
        + [("expense", e.asset_ref, e.kind, e.amount) for e in result.expenses_paid]
        + [("surplus", k, v) for k, v in result.surplus_by_asset.items()]
    )


async def propose(case_ref: str, data: SettlementProposal, actor: str) -> SettlementRead:
    async with case_write():
        case = await locked_case(case_ref)
        if case["state"] not in SETTLEABLE:
            raise _not_settleable(case)
        currency = case["currency"]
        prof = profile(case["profile"])
        errors = FieldErrors()
        gross = (case["sale_price"] or 0) + case["forfeited_deposits"]
        if data.gross_proceeds is not None:
            given = check_amount(errors, "gross_proceeds", data.gross_proceeds, currency)
            if given is not None and given != gross:
                errors.add(
                    "gross_proceeds",
                    f"must be the sale price {format_amount(case['sale_price'] or 0, currency)} plus forfeited "
                    f"deposits {format_amount(case['forfeited_deposits'], currency)}",
                )
        expenses = parse_expenses(data.expenses, currency, errors, gross=gross, profile=prof)
        await check_documents(
            [(f"expenses[{i}].document_ids", e.document_ids) for i, e in enumerate(data.expenses)], errors
        )
        errors.raise_if_any()
        book, appraisals = await _lot(case)
        order = data.profile or prof.waterfall_order
        result = compute(book, gross=gross, expenses=expenses, appraisals=appraisals, order=order)
        await Settlement.update({Settlement.status: SUPERSEDED}).where(
            (Settlement.case == case["id"]) & (Settlement.status == PROPOSED)
        )
        settlement_id = (
            await Settlement.insert(
                Settlement(
                    case=case["id"],
                    status=PROPOSED,
                    gross=gross,
                    expenses=json.dumps(
                        [
                            {"kind": e.kind, "amount": x.amount, "document_ids": e.document_ids}
                            for e, x in zip(data.expenses, expenses, strict=True)
                        ]
                    ),
                    waterfall_order=order,
                    proposed_by=actor,
                    proposed_at=clock.now(),
                )
            ).returning(Settlement.id)
        )[0]["id"]
        in_lieu = case["state"] == CaseState.IN_LIEU.value
        await insert_rows(SettlementLine, LINE_COLUMNS, _line_rows(settlement_id, result, book, in_lieu))
        await audit.record(
            actor,
            ENTITY,
            case_ref,
            "propose_settlement",
            after={
                "settlement_id": settlement_id,
                "gross": gross,
                "expenses_paid": sum(e.amount for e in result.expenses_paid),
                "allocated": sum(x.amount for x in result.lines),
                "surplus": sum(result.surplus_by_asset.values()),
            },
        )
    return await read_settlement(case_ref)


async def confirm(case_ref: str, actor: str) -> SettlementRead:
    async with case_write():
        case = await locked_case(case_ref)
        if case["state"] not in SETTLEABLE:
            raise _not_settleable(case)
        proposal = (
            await Settlement.select().where((Settlement.case == case["id"]) & (Settlement.status == PROPOSED)).first()
        )
        if proposal is None:
            raise StateConflictError(
                f"case {case_ref} has no settlement proposed", current=case["state"], allowed=["propose"]
            )
        if proposal["proposed_by"] == actor:
            raise FourEyesError(f"four eyes: {actor} proposed this settlement, so another disposal officer confirms it")
        book, appraisals = await _lot(case)
        stored = await SettlementLine.select().where(SettlementLine.settlement == proposal["id"])
        proposed = _result_from_lines(proposal["gross"], list(stored))
        recomputed = compute(
            book,
            gross=proposal["gross"],
            expenses=_expenses_of(proposal),
            appraisals=appraisals,
            order=proposal["waterfall_order"],
        )
        if _fingerprint(recomputed) != _fingerprint(proposed):
            raise StateConflictError(
                "the secured loans or liens changed since the settlement was proposed; propose it again",
                current=case["state"],
                allowed=["propose"],
            )
        await _apply(case, book, recomputed, actor)
        now = clock.now()
        await Settlement.update(
            {Settlement.status: CONFIRMED, Settlement.confirmed_by: actor, Settlement.confirmed_at: now}
        ).where(Settlement.id == proposal["id"])
        await DisposalCase.update({DisposalCase.state: CaseState.SETTLED.value, DisposalCase.settled_at: now}).where(
            DisposalCase.id == case["id"]
        )
        await audit.record(
            actor,
            ENTITY,
            case_ref,
            "settle",
            before={"state": case["state"]},
            after={
                "state": CaseState.SETTLED.value,
                "settlement_id": proposal["id"],
                "allocated": sum(x.amount for x in recomputed.lines),
                "deficiency": recomputed.deficiency,
            },
        )
    return await read_settlement(case_ref)


def _expenses_of(proposal: dict[str, Any]) -> list[Expense]:
    return [Expense(e["kind"], e["amount"]) for e in json.loads(proposal["expenses"])]


async def _apply(case: dict[str, Any], book: LotBook, result: WaterfallResult, actor: str) -> None:
    """The writes of a confirmation, in the caller's transaction: ledgers, liens, assets."""
    in_lieu = case["state"] == CaseState.IN_LIEU.value
    memo = f"disposal case {case['ref']}: {'taken in lieu' if in_lieu else 'sale proceeds'}"
    # One posting per loan, its components in their columns: a ledger entry is what one loan received, whatever
    # number of liens and assets it came through.
    paid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in result.lines:
        if line.holder == OWN and line.loan_ref and line.component:
            paid[line.loan_ref][line.component] -= line.amount
    today = clock.today()
    await post_entries(
        [
            LedgerEntry(
                loan_id=book.loans[loan_ref].id,
                kind="disposal_proceeds",
                deltas=dict(deltas),
                value_date=today,
                memo=memo,
            )
            for loan_ref, deltas in sorted(paid.items())
        ],
        actor,
    )
    # The sale extinguishes every lien on the lot (拍变规定 art. 28); an unregistered filing has nothing to release.
    registered = [lien.id for lien in book.liens if lien.status == RegistrationStatus.REGISTERED.value]
    if registered:
        await release_liens(registered, actor, memo=memo)
    await set_asset_status([a.id for a in book.assets], "taken_in_lieu" if in_lieu else "disposed", actor, memo=memo)


async def read_settlement(case_ref: str) -> SettlementRead:
    case = await case_file.case_row(case_ref)
    row = (
        await Settlement.select()
        .where((Settlement.case == case["id"]) & Settlement.status.is_in([PROPOSED, CONFIRMED]))
        .order_by(Settlement.id, ascending=False)
        .first()
    )
    if row is None:
        raise NotFoundError("settlement of case", case_ref)
    lines = list(
        await SettlementLine.select().where(SettlementLine.settlement == row["id"]).order_by(SettlementLine.id)
    )
    asset_column: Any = CaseAsset.asset
    assets = (
        await CaseAsset.select(
            CaseAsset.asset.ref.as_alias("asset_ref"),
            asset_column.owner.ref.as_alias("owner_ref"),
            CaseAsset.appraisal,
        )
        .where(CaseAsset.case == case["id"])
        .order_by(CaseAsset.asset.ref)
    )
    infos = [AssetInfo(a["asset_ref"], a["owner_ref"], a["appraisal"]) for a in assets]
    in_lieu = case["sale_kind"] == "in_lieu"
    waterfall = to_read(
        _result_from_lines(row["gross"], lines),
        infos,
        currency=case["currency"],
        order=row["waterfall_order"],
        in_lieu=in_lieu,
    )
    proposed = json.loads(row["expenses"])
    return SettlementRead(
        id=row["id"],
        case_ref=case_ref,
        status=row["status"],
        proposed_by=row["proposed_by"],
        proposed_at=row["proposed_at"],
        confirmed_by=row["confirmed_by"],
        confirmed_at=row["confirmed_at"],
        expense_documents=[e["document_ids"] for e in proposed],
        expenses=[
            ProposedExpense(
                kind=e["kind"], amount=format_amount(e["amount"], case["currency"]), document_ids=e["document_ids"]
            )
            for e in proposed
        ],
        waterfall=waterfall,
    )
