"""Shapes of the proceeds waterfall and the settlement (DESIGN sections 7 and 8)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from auctions.schemas.cases import DocumentIds
from registry.schemas.fields import Amount

WaterfallOrder = Literal["cn-civil-code", "principal-first"]
ExpenseKind = Literal[
    "commission", "auction_fee", "court_fee", "valuation_fee", "storage", "legal", "tax", "transfer", "other"
]


class ExpenseIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: ExpenseKind
    amount: Amount
    document_ids: DocumentIds = []


Expenses = Annotated[list[ExpenseIn], msgspec.Meta(max_length=50)]


class WaterfallRequest(msgspec.Struct, forbid_unknown_fields=True):
    gross_proceeds: Amount
    expenses: Expenses = []
    # The order in which a loan's share fills its balance components; default: the case profile's.
    profile: WaterfallOrder | None = None


class SettlementProposal(msgspec.Struct, forbid_unknown_fields=True):
    """A settlement's gross defaults to the sale price plus forfeited deposits; given, it must equal them."""

    expenses: Expenses = []
    gross_proceeds: Amount | None = None
    profile: WaterfallOrder | None = None


class ExpenseLine(msgspec.Struct):
    asset_id: str
    kind: str
    amount: str


class WaterfallLine(msgspec.Struct):
    asset_id: str
    lien_id: str
    holder: str
    rank: int
    loan_id: str | None
    component: str | None
    amount: str
    cash: bool


class DeficiencyLine(msgspec.Struct):
    loan_id: str
    amount: str


class SurplusLine(msgspec.Struct):
    asset_id: str
    owner_id: str
    amount: str


class AssetShare(msgspec.Struct):
    asset_id: str
    appraisal: str | None
    gross: str


class WaterfallRead(msgspec.Struct):
    currency: str
    profile: str
    gross_proceeds: str
    expenses_paid: str
    lines: list[WaterfallLine]
    surplus: str
    deficiency: list[DeficiencyLine]
    expenses: list[ExpenseLine]
    surplus_by_asset: list[SurplusLine]
    assets: list[AssetShare]
    paid_to_own_loans: str
    owed_by_bank: str  # taken in lieu: what the bank pays others (prior or equal creditors, the owner's surplus)


class ProposedExpense(msgspec.Struct):
    kind: str
    amount: str
    document_ids: list[int]


class SettlementRead(msgspec.Struct):
    id: int
    case_ref: str
    status: str
    proposed_by: str
    proposed_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    expense_documents: list[list[int]]  # per proposed expense, in order (kept for clients of the first version)
    expenses: list[ProposedExpense]
    waterfall: WaterfallRead
