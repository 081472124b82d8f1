"""The proceeds waterfall of a lot (DESIGN 7), exact to the minor unit.

Pure: the standard library and registry.money only, so the preview, the settlement and the tests all
run the same arithmetic. Every pro-rata split is `split_largest_remainder`, so each one sums exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple, TypeVar

from registry.money import split_largest_remainder

COMPONENTS = ("principal", "interest", "penalty", "fees")
COMPONENT_ORDERS: dict[str, tuple[str, ...]] = {
    "cn-civil-code": ("fees", "penalty", "interest", "principal"),  # Civil Code art. 561: costs, interest, principal
    "principal-first": ("principal", "interest", "penalty", "fees"),
}
OWN = "own"


@dataclass(frozen=True, slots=True)
class Expense:
    kind: str
    amount: int


@dataclass(frozen=True, slots=True)
class LienClaim:
    lien_ref: str
    holder: str
    rank: int
    cap: int | None
    external_claim: int | None
    loan_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LotAsset:
    asset_ref: str
    appraisal: int
    liens: tuple[LienClaim, ...]


@dataclass(frozen=True, slots=True)
class ExpensePaid:
    asset_ref: str
    kind: str
    amount: int


class Line(NamedTuple):
    """A named tuple, not a frozen dataclass: a lot under thousands of loans makes tens of thousands of
    lines, and a tuple is built several times faster."""

    asset_ref: str
    lien_ref: str
    holder: str
    rank: int
    loan_ref: str | None
    component: str | None
    amount: int


@dataclass(frozen=True, slots=True)
class WaterfallResult:
    gross: int
    expenses_paid: tuple[ExpensePaid, ...]
    lines: tuple[Line, ...]
    surplus_by_asset: dict[str, int]
    balances_after: dict[str, dict[str, int]]
    deficiency: dict[str, int]

    @property
    def expenses_total(self) -> int:
        return sum(e.amount for e in self.expenses_paid)

    @property
    def lines_total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def surplus(self) -> int:
        return sum(self.surplus_by_asset.values())

    @property
    def deficiency_total(self) -> int:
        return sum(self.deficiency.values())

    def paid_to_loan(self, loan_ref: str) -> int:
        return sum(line.amount for line in self.lines if line.loan_ref == loan_ref)

    def paid_to_lien(self, lien_ref: str) -> int:
        return sum(line.amount for line in self.lines if line.lien_ref == lien_ref)


class WaterfallError(ValueError):
    """Input the waterfall cannot take as given (negative amounts, unknown order, dangling or duplicate refs)."""


_K = TypeVar("_K")
_LineKey = tuple[str, str, str | None, str | None]  # asset, lien, loan, component


def split_lot(amount: int, assets: Sequence[LotAsset]) -> dict[str, int]:
    """An amount of the lot split among its assets pro rata to appraisal, ties to the smaller asset ref."""
    refs = sorted(a.asset_ref for a in assets)
    appraisal = {a.asset_ref: a.appraisal for a in assets}
    weights = [appraisal[r] for r in refs]
    if not any(weights):
        # No appraisal to weigh by (all zero): equal parts rather than refusing to distribute the money.
        weights = [1] * len(refs)
    return dict(zip(refs, split_largest_remainder(amount, weights, refs), strict=True))


def run_waterfall(
    gross: int,
    expenses: Sequence[Expense],
    assets: Sequence[LotAsset],
    balances: Mapping[str, Mapping[str, int]],
    order: str = "cn-civil-code",
) -> WaterfallResult:
    _check(gross, expenses, assets, balances, order)
    sequence = COMPONENT_ORDERS[order]
    outstanding = {loan: {c: comps.get(c, 0) for c in COMPONENTS} for loan, comps in sorted(balances.items())}
    gross_of = split_lot(gross, assets)
    # Each expense is split on its own, so one asset's share of every expense is known before it pays.
    expense_parts = [split_lot(e.amount, assets) for e in expenses]
    lien_paid: dict[str, int] = {}  # per lien ref across the whole lot: caps and external claims hold lot-wide
    paid: dict[_LineKey, int] = {}
    expenses_paid: list[ExpensePaid] = []
    surplus: dict[str, int] = {}
    ordered = sorted(assets, key=lambda a: a.asset_ref)
    left_of = dict(gross_of)
    expense_paid: dict[tuple[str, int], int] = {}
    short = [0] * len(expenses)
    for asset in ordered:
        ref = asset.asset_ref
        for i, parts in enumerate(expense_parts):
            pay = min(parts[ref], left_of[ref])
            expense_paid[ref, i] = pay
            left_of[ref] -= pay
            short[i] += parts[ref] - pay
    # Expenses come first for the lot as a whole (DESIGN 7.1): a share an asset's gross could not cover, which
    # only happens when expenses nearly eat the gross, is paid from the other assets' gross in ref order.
    for i, unpaid in enumerate(short):
        owed = unpaid
        for asset in ordered:
            take = min(owed, left_of[asset.asset_ref])
            expense_paid[asset.asset_ref, i] += take
            left_of[asset.asset_ref] -= take
            owed -= take
    for asset in ordered:
        ref = asset.asset_ref
        for i, expense in enumerate(expenses):
            if expense_paid[ref, i]:
                expenses_paid.append(ExpensePaid(ref, expense.kind, expense_paid[ref, i]))
        left = left_of[ref]
        for rank in sorted({lien.rank for lien in asset.liens}):
            liens = sorted((lien for lien in asset.liens if lien.rank == rank), key=lambda x: x.lien_ref)
            left = _pay_rank(ref, liens, left, outstanding, lien_paid, sequence, paid)
        surplus[ref] = left

    lien_of = {(a.asset_ref, lien.lien_ref): lien for a in assets for lien in a.liens}
    position = {c: i for i, c in enumerate(sequence)}
    keyed = []
    for (asset_ref, lien_ref, loan_ref, component), amount in paid.items():
        lien = lien_of[asset_ref, lien_ref]
        line = Line(asset_ref, lien_ref, lien.holder, lien.rank, loan_ref, component, amount)
        keyed.append(((asset_ref, lien.rank, lien_ref, loan_ref or "", position.get(component or "", -1)), line))
    keyed.sort(key=itemgetter(0))
    lines = [line for _, line in keyed]
    secured = sorted({loan for a in assets for lien in a.liens if lien.holder == OWN for loan in lien.loan_refs})
    deficiency = {loan: sum(outstanding[loan].values()) for loan in secured if sum(outstanding[loan].values())}
    return WaterfallResult(gross, tuple(expenses_paid), tuple(lines), surplus, outstanding, deficiency)


def _claim(lien: LienClaim, outstanding: Mapping[str, Mapping[str, int]], lien_paid: Mapping[str, int]) -> int:
    already = lien_paid.get(lien.lien_ref, 0)
    if lien.holder != OWN:
        return (lien.external_claim or 0) - already  # _check refuses another creditor's lien without one
    owed = sum(sum(outstanding[loan].values()) for loan in lien.loan_refs)
    return owed if lien.cap is None else min(lien.cap - already, owed)


def _pay_rank(
    asset_ref: str,
    liens: list[LienClaim],
    left: int,
    outstanding: dict[str, dict[str, int]],
    lien_paid: dict[str, int],
    sequence: tuple[str, ...],
    paid: dict[_LineKey, int],
) -> int:
    """Pay one rank of one asset out of `left`; answer what is left for the next rank.

    Termination: a pass whose shares are all placed either spends all of `left` or pays every lien its
    full claim, so the next pass finds A = 0. A pass that cannot place part of a share does so only
    because a loan was over-asked by liens sharing it; that loan is then paid to zero, and it was
    positive before (a lien never asks a loan for more than the loan owes). Loans only go down, so at
    most (loans of the rank) passes leave money unplaced, and the loop ends within loans + 2 passes.
    """
    own_loans = [loan for lien in liens if lien.holder == OWN for loan in lien.loan_refs]
    # Only a loan two liens of this rank secure can be over-asked; every other part is placed as it comes.
    seen: set[str] = set()
    shared = {loan for loan in own_loans if loan in seen or seen.add(loan)}  # type: ignore[func-returns-value]
    for _ in range(len(set(own_loans)) + 2):
        claims = [_claim(lien, outstanding, lien_paid) for lien in liens]
        amount = min(left, sum(claims))
        if amount == 0:
            return left
        shares = split_largest_remainder(amount, claims, [lien.lien_ref for lien in liens])
        asks: dict[str, dict[str, int]] = {}  # shared loan -> lien -> amount that lien's share would put on it
        for lien, share in zip(liens, shares, strict=True):
            if not share:
                continue
            lien_ref = lien.lien_ref
            if lien.holder != OWN:
                _add(paid, (asset_ref, lien_ref, None, None), share)
                _add(lien_paid, lien_ref, share)
                left -= share
                continue
            loans = sorted(lien.loan_refs)
            owed = [sum(outstanding[loan].values()) for loan in loans]
            # share <= claim <= sum(owed), so no loan is asked for more than it owes.
            for loan, part in zip(loans, split_largest_remainder(share, owed, loans), strict=True):
                if not part:
                    continue
                if loan in shared:
                    asks.setdefault(loan, {})[lien_ref] = part
                    continue
                left -= part
                lien_paid[lien_ref] = lien_paid.get(lien_ref, 0) + part
                _fill(outstanding[loan], part, sequence, paid, (asset_ref, lien_ref, loan))
        for loan in sorted(asks):
            # Liens of one rank asking one loan for more than it owes share what it owes pro rata to
            # their asks, so who gets it does not depend on lien names; the rest goes back to `left`.
            askers = sorted(asks[loan])
            wanted = [asks[loan][ref] for ref in askers]
            owes = sum(outstanding[loan].values())
            placed = wanted if sum(wanted) <= owes else split_largest_remainder(owes, wanted, askers)
            for lien_ref, part in zip(askers, placed, strict=True):
                left -= part
                _add(lien_paid, lien_ref, part)
                _fill(outstanding[loan], part, sequence, paid, (asset_ref, lien_ref, loan))
    raise AssertionError("the rank loop outran its bound; see the termination argument above")


def _fill(
    balance: dict[str, int],
    amount: int,
    sequence: tuple[str, ...],
    paid: dict[_LineKey, int],
    key: tuple[str, str, str],
) -> None:
    """Take `amount` (at most what the loan owes) from its components in the order's sequence, adding each
    take to the line of (asset, lien, loan) and that component."""
    for component in sequence:
        if not amount:
            return
        take = min(amount, balance[component])
        if take:
            balance[component] -= take
            amount -= take
            line = (*key, component)
            paid[line] = paid.get(line, 0) + take


def _add(totals: dict[_K, int], key: _K, amount: int) -> None:
    totals[key] = totals.get(key, 0) + amount


def _check(
    gross: int,
    expenses: Sequence[Expense],
    assets: Sequence[LotAsset],
    balances: Mapping[str, Mapping[str, int]],
    order: str,
) -> None:
    if order not in COMPONENT_ORDERS:
        raise WaterfallError(f"unknown component order {order!r}; known: {', '.join(COMPONENT_ORDERS)}")
    if gross < 0:
        raise WaterfallError("gross proceeds must not be negative")
    for expense in expenses:
        if expense.amount < 0:
            raise WaterfallError(f"expense {expense.kind!r} must not be negative")
    if not assets:
        raise WaterfallError("a lot needs at least one asset")
    for loan, comps in balances.items():
        unknown = set(comps) - set(COMPONENTS)
        if unknown:
            raise WaterfallError(f"loan {loan!r} has unknown components {sorted(unknown)}")
        if any(v < 0 for v in comps.values()):
            raise WaterfallError(f"loan {loan!r} has a negative outstanding component")
    asset_refs = [a.asset_ref for a in assets]
    if len(set(asset_refs)) != len(asset_refs):
        raise WaterfallError("duplicate asset refs in the lot")
    seen: dict[str, LienClaim] = {}
    for asset in assets:
        if asset.appraisal < 0:
            raise WaterfallError(f"asset {asset.asset_ref!r} has a negative appraisal")
        lien_refs = [lien.lien_ref for lien in asset.liens]
        if len(set(lien_refs)) != len(lien_refs):
            raise WaterfallError(f"duplicate lien refs on asset {asset.asset_ref!r}")
        for lien in asset.liens:
            _check_lien(lien, balances)
            # One lien over two assets of the lot must be the same claim on both, or caps and
            # external claims tracked lot-wide would be ambiguous.
            first = seen.setdefault(lien.lien_ref, lien)
            if (first.holder, first.cap, first.external_claim, set(first.loan_refs)) != (
                lien.holder,
                lien.cap,
                lien.external_claim,
                set(lien.loan_refs),
            ):
                raise WaterfallError(f"lien {lien.lien_ref!r} differs between the assets it covers")


def _check_lien(lien: LienClaim, balances: Mapping[str, Mapping[str, int]]) -> None:
    name = f"lien {lien.lien_ref!r}"
    if lien.rank < 1:
        raise WaterfallError(f"{name} has rank {lien.rank}; ranks start at 1")
    if lien.holder == OWN:
        if lien.cap is not None and lien.cap < 0:
            raise WaterfallError(f"{name} has a negative cap")
        if len(set(lien.loan_refs)) != len(lien.loan_refs):
            raise WaterfallError(f"{name} names a loan twice")
        missing = sorted(set(lien.loan_refs) - set(balances))
        if missing:
            raise WaterfallError(f"{name} secures loans without a balance: {', '.join(missing)}")
    else:
        if lien.external_claim is None or lien.external_claim < 0:
            raise WaterfallError(f"{name} of {lien.holder!r} needs a non-negative external claim")
        if lien.loan_refs:
            raise WaterfallError(f"{name} of {lien.holder!r} cannot secure our loans")
