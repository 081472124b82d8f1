"""What the disposal pages show, shaped from the services' answers: the rules a round must meet, the moves an
officer may make, a waterfall's figures per asset with totals that add up to the gross, and the recovery
metrics as a table and a chart. Pure: no Litestar, no database."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from auctions.rules.profiles import Profile, asset_class
from auctions.rules.waterfall import OWN
from auctions.schemas.cases import CaseRead
from auctions.schemas.metrics import MetricsRead
from auctions.schemas.settlement import WaterfallRead
from frontend.templating import amount, label

# What the pages say after a redirect (?done=…); anything else is ignored, never echoed.
DONE = {
    "opened": "Case opened. The lot's assets are now in disposal.",
    "round": "Round scheduled.",
    "offer": "Offer recorded. Another disposal officer accepts it.",
    "accepted": "Offer accepted: the lot is sold.",
    "start_private_sale": "The private sale has started.",
    "take_in_lieu": "The lot is taken in lieu.",
    "withdraw": "The case is withdrawn; the assets are back to their previous status.",
    "close": "The case is closed.",
    "proposed": "Settlement proposed. A second disposal officer confirms it.",
    "confirmed": "Settlement confirmed: the proceeds are posted and the liens released.",
}


@dataclass(frozen=True, slots=True)
class MoveButton:
    move: str
    label: str
    explains: str


def _dec(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _places(text: str) -> int:
    return len(text.partition(".")[2])


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def at_least(base: str, ratio: Decimal) -> str:
    """ratio x base rounded up to the currency's unit: the least amount the rule accepts."""
    unit = Decimal(1).scaleb(-_places(base))
    return amount(str((Decimal(base) * ratio).quantize(unit, rounding=ROUND_CEILING)))


def gross_of_sale(case: CaseRead) -> str | None:
    """What a settlement distributes: the sale price plus forfeited deposits (None before a sale)."""
    if case.sale_price is None:
        return None
    total = _dec(case.sale_price) + _dec(case.forfeited_deposits)
    return f"{total:.{_places(case.sale_price)}f}"


def round_rules(case: CaseRead, prof: Profile) -> list[str]:
    """What the profile asks of the next round, in the officer's terms, with the numbers of this case."""
    number = len(case.rounds) + 1
    lot = asset_class({a.kind for a in case.assets})
    failed = [r for r in case.rounds if r.status in ("failed", "defaulted")]
    rules: list[str] = []
    if number == 1 and prof.first_round_floor is not None:
        rules.append(
            f"Starting price at least {_pct(prof.first_round_floor)} of the appraisal "
            f"{amount(case.appraisal)}: {at_least(case.appraisal, prof.first_round_floor)}."
        )
    elif failed and prof.next_round_floor is not None:
        last = failed[-1]
        rules.append(
            f"Starting price at least {_pct(prof.next_round_floor)} of round {last.number}'s "
            f"{amount(last.starting_price)}: {at_least(last.starting_price, prof.next_round_floor)}."
        )
    else:
        rules.append("The starting price is the seller's to set.")
    if prof.deposit_band is not None:
        low, high = prof.deposit_band
        rules.append(f"Deposit {_pct(low)} to {_pct(high)} of the starting price.")
    days = prof.notice.days(number, lot)
    rules.append(f"Public notice at least {days} days before bidding starts ({lot.value} property).")
    if prof.min_bidding_hours is not None:
        rules.append(f"Bidding open at least {prof.min_bidding_hours} hours.")
    if case.next_deadline is not None:
        rules.append(f"Deadline: {case.next_deadline.what} by {case.next_deadline.due_on.isoformat()}.")
    return rules


def move_buttons(case: CaseRead, prof: Profile) -> list[MoveButton]:
    """The moves a person makes by hand that the case allows now, each with what it does."""
    explain = {
        "start_private_sale": (
            "Start the private sale",
            "Offers may then be recorded"
            + (f" for {prof.private_sale_days} days" if prof.private_sale_days else "")
            + (f", at no less than {amount(case.private_sale_floor)}" if case.private_sale_floor else "")
            + "; a second disposal officer accepts one.",
        ),
        "take_in_lieu": (
            "Take the lot in lieu",
            f"The bank takes the lot at {amount(case.in_lieu_price)} {case.currency}, the starting price of the "
            "last failed round; the settlement then pays our loans without cash.",
        ),
        "withdraw": (
            "Withdraw the case",
            "The secured loans are repaid: the assets go back to their status before the case.",
        ),
        "close": ("Close the case", "The case is settled; closing files it. Nothing else changes."),
    }
    return [MoveButton(m, *explain[m]) for m in case.allowed_moves if m in explain]


@dataclass(frozen=True, slots=True)
class AssetFigures:
    asset_id: str
    owner_id: str
    appraisal: str | None
    gross: str
    expenses: str
    to_liens: str
    surplus: str


@dataclass(frozen=True, slots=True)
class WaterfallFigures:
    """The waterfall as the pages lay it out: per asset, per kind of payee, and the check that it adds up."""

    assets: list[AssetFigures]
    to_own_loans: str
    to_other_creditors: str
    allocated: str
    total: str  # expenses + allocations + surplus: equals the gross
    adds_up: bool
    deficiency: str


def waterfall_figures(w: WaterfallRead) -> WaterfallFigures:
    places = _places(w.gross_proceeds)

    def fmt(value: Decimal) -> str:
        return f"{value:.{places}f}"

    expenses: dict[str, Decimal] = {}
    for e in w.expenses:
        expenses[e.asset_id] = expenses.get(e.asset_id, Decimal(0)) + _dec(e.amount)
    to_liens: dict[str, Decimal] = {}
    for line in w.lines:
        to_liens[line.asset_id] = to_liens.get(line.asset_id, Decimal(0)) + _dec(line.amount)
    surplus = {s.asset_id: s for s in w.surplus_by_asset}
    own = sum((_dec(x.amount) for x in w.lines if x.holder == OWN), Decimal(0))
    others = sum((_dec(x.amount) for x in w.lines if x.holder != OWN), Decimal(0))
    total = _dec(w.expenses_paid) + own + others + _dec(w.surplus)
    return WaterfallFigures(
        assets=[
            AssetFigures(
                asset_id=a.asset_id,
                owner_id=surplus[a.asset_id].owner_id if a.asset_id in surplus else "",
                appraisal=a.appraisal,
                gross=a.gross,
                expenses=fmt(expenses.get(a.asset_id, Decimal(0))),
                to_liens=fmt(to_liens.get(a.asset_id, Decimal(0))),
                surplus=surplus[a.asset_id].amount if a.asset_id in surplus else fmt(Decimal(0)),
            )
            for a in w.assets
        ],
        to_own_loans=fmt(own),
        to_other_creditors=fmt(others),
        allocated=fmt(own + others),
        total=fmt(total),
        adds_up=total == _dec(w.gross_proceeds),
        deficiency=fmt(sum((_dec(d.amount) for d in w.deficiency), Decimal(0))),
    )


def percent_points(ratio: str | None) -> str | None:
    """ "0.8526" -> "85.26": what the chart draws, exact from the service's decimal string."""
    return None if ratio is None else f"{(Decimal(ratio) * 100).normalize():f}"


def group_name(by: str, group: str) -> str:
    """A group as people read it: asset kinds humanised ("Land-use right"); profiles and months as they are."""
    return label(group) if by == "asset_kind" else group


def metrics_chart(result: MetricsRead) -> dict[str, Any]:
    """The chart's data: per group (and currency, when there are several), recovery rate and discount to
    appraisal in percentage points, as decimal strings; a group with no settled sale has no bar."""
    several = len({r.currency for r in result.rows}) > 1
    names = [group_name(result.by, r.group) for r in result.rows]
    recovery = [percent_points(r.recovery_rate) for r in result.rows]
    discount = [percent_points(r.discount_to_appraisal) for r in result.rows]
    return {
        "labels": [f"{n} ({r.currency})" if several else n for n, r in zip(names, result.rows, strict=True)],
        "unit": "%",
        "series": [
            {"label": "Recovery rate", "values": recovery},
            {"label": "Discount to appraisal", "values": discount},
        ],
    }
