"""The disposal side of the risk warning (DESIGN 9): cases whose next legal step is due, and loans a settlement
left with a deficiency. Each is one read; the deadlines come from the same rule as the case page's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from auctions.rules.case_life import CaseFacts, CaseState
from auctions.rules.profiles import profile
from auctions.services.case_file import failed_rounds, next_deadline
from auctions.tables import AuctionRound, DisposalCase, SettlementLine
from registry.money import format_amount

# States with a step still ahead of them; settled, closed and withdrawn cases have none.
LIVE_STATES = (CaseState.OPEN.value, CaseState.AUCTION.value, CaseState.PRIVATE_SALE.value, CaseState.SOLD.value)


@dataclass(frozen=True, slots=True)
class DueCase:
    case_ref: str
    what: str
    due_on: date

    def overdue(self, today: date) -> bool:
        return self.due_on < today


@dataclass(frozen=True, slots=True)
class DeficiencyLoan:
    loan_ref: str
    case_ref: str
    amount: str
    currency: str


async def cases_due(today: date, within_days: int = 30) -> list[DueCase]:
    """Live cases whose next legal step falls within `within_days` (or is past): a round to schedule after a failed
    one, a private-sale window closing, a winner's balance due. Soonest first."""
    cases = {
        r["id"]: r
        for r in await DisposalCase.select(
            DisposalCase.id,
            DisposalCase.ref,
            DisposalCase.profile,
            DisposalCase.state,
            DisposalCase.private_sale_started_on,
        ).where(DisposalCase.state.is_in(list(LIVE_STATES)))
    }
    by_case: dict[int, list[dict[str, Any]]] = {}
    if cases:
        for row in (
            await AuctionRound.select().where(AuctionRound.case.is_in(list(cases))).order_by(AuctionRound.number)
        ):
            by_case.setdefault(row["case"], []).append(row)
    horizon = today + timedelta(days=within_days)
    due: list[DueCase] = []
    for case_id, case in cases.items():
        rounds = by_case.get(case_id, [])
        facts = CaseFacts(
            state=CaseState(case["state"]),
            failed_rounds=failed_rounds(rounds),
            rounds_held=len(rounds),
            outstanding=0,  # the deadline does not read it
            private_sale_started_on=case["private_sale_started_on"],
            today=today,
        )
        deadline = next_deadline(profile(case["profile"]), case, facts)
        if deadline is not None and deadline.due_on <= horizon:
            due.append(DueCase(case["ref"], deadline.what, deadline.due_on))
        sold = [r for r in rounds if r["status"] == "sold" and r["balance_due_on"] is not None]
        if case["state"] == CaseState.SOLD.value and sold and sold[-1]["balance_due_on"] <= horizon:
            due.append(DueCase(case["ref"], "the winner's balance is due", sold[-1]["balance_due_on"]))
    return sorted(due, key=lambda d: (d.due_on, d.case_ref))


async def deficiency_loans() -> list[DeficiencyLoan]:
    """Loans a confirmed settlement left owing, with what it left them owing, largest first."""
    settlement: Any = SettlementLine.settlement
    rows = await SettlementLine.select(
        SettlementLine.loan_ref,
        SettlementLine.amount,
        settlement.case.ref.as_alias("case_ref"),
        settlement.case.currency.as_alias("currency"),
    ).where((SettlementLine.kind == "deficiency") & (settlement.status == "confirmed"))
    ordered = sorted(rows, key=lambda r: (-r["amount"], r["loan_ref"]))
    return [
        DeficiencyLoan(r["loan_ref"], r["case_ref"], format_amount(r["amount"], r["currency"]), r["currency"])
        for r in ordered
    ]
