"""What a loan's balance is made of, and which way each kind of posting may move it. Pure.

A balance is never stored: it is the sum of the ledger's postings, component by component (DESIGN 4).
Every package that reads or writes balances (the ledger, the bulk import, the coverage engine, the
disposal waterfall) names the components from here, in this order.
"""

from __future__ import annotations

BALANCE_COMPONENTS: tuple[str, ...] = ("principal", "interest", "penalty", "fees")

# What capitalisation moves into principal: everything overdue that is not principal already.
OVERDUE_COMPONENTS: tuple[str, ...] = BALANCE_COMPONENTS[1:]

# Which components each kind of posting requested over the API may carry, and which way it moves them.
POSTING_RULES: dict[str, tuple[frozenset[str], int]] = {
    "disbursement": (frozenset({"principal"}), +1),
    "accrual": (frozenset(OVERDUE_COMPONENTS), +1),
    "repayment": (frozenset(BALANCE_COMPONENTS), -1),
    "disposal_proceeds": (frozenset(BALANCE_COMPONENTS), -1),
    "write_off": (frozenset(BALANCE_COMPONENTS), -1),
    # Capitalisation moves overdue interest, penalty and fees into principal; the principal
    # delta is their sum, so the total balance is unchanged.
    "capitalisation": (frozenset(OVERDUE_COMPONENTS), -1),
}
