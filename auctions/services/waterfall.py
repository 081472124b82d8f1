"""Waterfall previews (no side effects) and the shaping of a waterfall for the API and the statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auctions.rules.pricing import check_expenses
from auctions.rules.profiles import Profile
from auctions.rules.waterfall import OWN, Expense, WaterfallError, WaterfallResult, run_waterfall
from auctions.schemas.settlement import (
    AssetShare,
    DeficiencyLine,
    ExpenseIn,
    ExpenseLine,
    SurplusLine,
    WaterfallLine,
    WaterfallRead,
)
from auctions.services.lot import LotBook, read_lot
from registry.errors import FieldErrors, InvalidInputError
from registry.money import format_amount
from registry.services.common import check_amount, id_for_ref
from registry.tables import Asset
from valuation.tables import Valuation

DEFAULT_ORDER = "cn-civil-code"


def parse_expenses(
    expenses: Sequence[ExpenseIn], currency: str, errors: FieldErrors, *, gross: int | None, profile: Profile | None
) -> list[Expense]:
    out: list[Expense] = []
    for i, e in enumerate(expenses):
        amount = check_amount(errors, f"expenses[{i}].amount", e.amount, currency)
        out.append(Expense(e.kind, amount or 0))
    if profile is not None and gross is not None and not errors.errors:
        for refusal in check_expenses(
            profile, gross=gross, expenses=[(e.kind, e.amount) for e in out], currency=currency
        ):
            errors.add(refusal.field, refusal.reason)
    return out


def compute(
    book: LotBook, *, gross: int, expenses: Sequence[Expense], appraisals: dict[int, int], order: str
) -> WaterfallResult:
    try:
        return run_waterfall(gross, expenses, book.waterfall_assets(appraisals), book.balances(), order)
    except WaterfallError as exc:  # the service checked every input first; this names what it missed
        raise InvalidInputError.one("gross_proceeds", str(exc)) from None


@dataclass(frozen=True, slots=True)
class AssetInfo:
    ref: str
    owner_ref: str
    appraisal: int | None


def asset_infos(book: LotBook, appraisals: dict[int, int] | None = None) -> list[AssetInfo]:
    return [AssetInfo(a.ref, a.owner_ref, (appraisals or {}).get(a.id)) for a in book.assets]


def to_read(
    result: WaterfallResult, assets: Sequence[AssetInfo], *, currency: str, order: str, in_lieu: bool = False
) -> WaterfallRead:
    def money(units: int) -> str:
        return format_amount(units, currency)

    owner_of = {a.ref: a.owner_ref for a in assets}
    lines = [
        WaterfallLine(
            asset_id=line.asset_ref,
            lien_id=line.lien_ref,
            holder=line.holder,
            rank=line.rank,
            loan_id=line.loan_ref,
            component=line.component,
            amount=money(line.amount),
            cash=not (in_lieu and line.holder == OWN),
        )
        for line in result.lines
    ]
    own = sum(line.amount for line in result.lines if line.holder == OWN)
    others = sum(line.amount for line in result.lines if line.holder != OWN)
    surplus = sum(result.surplus_by_asset.values())
    gross_by_asset: dict[str, int] = dict.fromkeys(owner_of, 0)
    for e in result.expenses_paid:
        gross_by_asset[e.asset_ref] = gross_by_asset.get(e.asset_ref, 0) + e.amount
    for line in result.lines:
        gross_by_asset[line.asset_ref] = gross_by_asset.get(line.asset_ref, 0) + line.amount
    for asset_ref, amount in result.surplus_by_asset.items():
        gross_by_asset[asset_ref] = gross_by_asset.get(asset_ref, 0) + amount
    return WaterfallRead(
        currency=currency,
        profile=order,
        gross_proceeds=money(result.gross),
        expenses_paid=money(sum(e.amount for e in result.expenses_paid)),
        lines=lines,
        surplus=money(surplus),
        deficiency=[DeficiencyLine(loan_id=ref, amount=money(v)) for ref, v in sorted(result.deficiency.items())],
        expenses=[ExpenseLine(asset_id=e.asset_ref, kind=e.kind, amount=money(e.amount)) for e in result.expenses_paid],
        surplus_by_asset=[
            SurplusLine(asset_id=ref, owner_id=owner_of.get(ref, ""), amount=money(v))
            for ref, v in sorted(result.surplus_by_asset.items())
        ],
        assets=[
            AssetShare(
                asset_id=a.ref,
                appraisal=None if a.appraisal is None else money(a.appraisal),
                gross=money(gross_by_asset.get(a.ref, 0)),
            )
            for a in assets
        ],
        paid_to_own_loans=money(own),
        owed_by_bank=money(others + surplus if in_lieu else 0),
    )


async def _preview_currency(book: LotBook, asset_id: int) -> str:
    """An asset outside any case has no appraisal to fix the currency: its liens' currency, else its latest
    approved valuation's, else CNY."""
    currencies = book.currencies()
    if len(currencies) == 1:
        return next(iter(currencies))
    if len(currencies) > 1:
        raise InvalidInputError.one(
            "asset", f"the asset's liens and loans are in several currencies ({', '.join(sorted(currencies))})"
        )
    row = (
        await Valuation.select(Valuation.currency)
        .where((Valuation.asset == asset_id) & (Valuation.status == "approved"))
        .order_by(Valuation.valued_on, ascending=False)
        .first()
    )
    return str(row["currency"]) if row else "CNY"


async def preview_for_asset(
    asset_ref: str, gross_text: str, expenses: Sequence[ExpenseIn], order: str | None
) -> WaterfallRead:
    asset_id = await id_for_ref(Asset, asset_ref, "asset")
    book = await read_lot([asset_id])
    currency = await _preview_currency(book, asset_id)
    errors = FieldErrors()
    gross = check_amount(errors, "gross_proceeds", gross_text, currency)
    parsed = parse_expenses(expenses, currency, errors, gross=gross, profile=None)
    errors.raise_if_any()
    order = order or DEFAULT_ORDER
    result = compute(book, gross=gross or 0, expenses=parsed, appraisals={asset_id: 1}, order=order)
    return to_read(result, asset_infos(book), currency=currency, order=order)
