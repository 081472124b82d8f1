"""Disposal cases, their lots, rounds, private-sale offers and settlements (DESIGN sections 6 and 7).

Amounts are integer minor units in the case's currency. Rows of a settled case are never rewritten:
the confirmed settlement keeps the statement as it was computed, so the case file reads the same later.
"""

from __future__ import annotations

from piccolo.columns import BigInt, Boolean, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from registry.tables import Asset, Loan, Party
from valuation.tables import Valuation


class DisposalCase(Table, tablename="disposal_case"):
    id = Serial(primary_key=True)
    ref = Varchar(length=64, unique=True)  # type: ignore[assignment]  # shadows Table.ref(), unused
    profile = Varchar(length=32)
    owner = ForeignKey(references=Party)
    currency = Varchar(length=3)
    state = Varchar(length=16, index=True)
    appraisal = BigInt()  # the lot's: Σ the appraisals taken when the case opened
    exposure_at_open = BigInt()  # Σ the secured loans' balances when the case opened
    opened_by = Varchar(length=64)
    opened_at = Timestamptz()
    private_sale_started_on = Date(null=True, default=None)
    sale_kind = Varchar(length=16, null=True, default=None)  # auction, private_sale, in_lieu
    sale_price = BigInt(null=True, default=None)
    buyer = Varchar(length=255, null=True, default=None)
    sold_at = Timestamptz(null=True, default=None)
    forfeited_deposits = BigInt(default=0)
    settled_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    withdrawn_at = Timestamptz(null=True, default=None)


class CaseAsset(Table, tablename="case_asset"):
    id = Serial(primary_key=True)
    case = ForeignKey(references=DisposalCase, index=True)
    asset = ForeignKey(references=Asset, index=True)
    valuation = ForeignKey(references=Valuation)
    appraisal = BigInt()
    valued_on = Date()
    previous_status = Varchar(length=16)  # what a withdrawal puts back


class CaseLoan(Table, tablename="case_loan"):
    id = Serial(primary_key=True)
    case = ForeignKey(references=DisposalCase, index=True)
    loan = ForeignKey(references=Loan, index=True)
    exposure_at_open = BigInt()


class AuctionRound(Table, tablename="auction_round"):
    id = Serial(primary_key=True)
    case = ForeignKey(references=DisposalCase, index=True)
    number = Integer()
    status = Varchar(length=16, index=True)  # scheduled, bidding, sold, failed, defaulted
    starting_price = BigInt()
    increment = BigInt()
    deposit = BigInt()
    notice_published_on = Date()
    starts_at = Timestamptz()
    ends_at = Timestamptz()  # the one effective end: soft close moves this, nothing else is read
    closed_at = Timestamptz(null=True, default=None)
    winner = Varchar(length=64, null=True, default=None)
    hammer_price = BigInt(null=True, default=None)
    balance_due_on = Date(null=True, default=None)
    # The lead as the bids left it, kept on the round so one locked row decides the next bid.
    current_price = BigInt(null=True, default=None)
    leader = Varchar(length=64, null=True, default=None)
    leader_rank = Integer(null=True, default=None)
    leader_bid_at = Timestamptz(null=True, default=None)
    bid_count = Integer(default=0)
    created_by = Varchar(length=64)
    created_at = Timestamptz()


class RoundBidder(Table, tablename="round_bidder"):
    """A bidder admitted to a round once the deposit was received; known to other bidders only by alias."""

    id = Serial(primary_key=True)
    round = ForeignKey(references=AuctionRound, index=True)
    username = Varchar(length=64, index=True)
    alias = Varchar(length=32)  # "bidder 7"
    deposit_paid = BigInt()
    preemption_rank = Integer(null=True, default=None)  # 1 = the highest right
    deposit_status = Varchar(length=16, default="held")  # held, refundable, forfeited, applied
    registered_by = Varchar(length=64)
    registered_at = Timestamptz()


class Bid(Table):
    """Every bid received, accepted or refused with its reason; the history a late subscriber replays."""

    id = Serial(primary_key=True)
    round = ForeignKey(references=AuctionRound, index=True)
    bidder = Varchar(length=64)
    alias = Varchar(length=32)
    amount = BigInt()
    received_at = Timestamptz()
    accepted = Boolean()
    code = Varchar(length=24, default="")
    reason = Text(default="")
    price_after = BigInt(null=True, default=None)
    ends_at_after = Timestamptz()
    idempotency_key = Varchar(length=128, null=True, default=None, index=True)
    status_code = Integer(default=201)
    response = Text(default="")  # the first answer, returned again to a retry with the same key


class SaleOffer(Table, tablename="sale_offer"):
    id = Serial(primary_key=True)
    case = ForeignKey(references=DisposalCase, index=True)
    buyer = Varchar(length=255)
    price = BigInt()
    terms = Text(default="")
    document_ids = Text(default="[]")  # JSON list: the offer letter, proof of funds
    notice_published_on = Date()
    status = Varchar(length=16)  # pending, accepted, lapsed
    made_by = Varchar(length=64)
    made_at = Timestamptz()
    accepted_by = Varchar(length=64, null=True, default=None)
    accepted_at = Timestamptz(null=True, default=None)


class Settlement(Table, tablename="settlement"):
    id = Serial(primary_key=True)
    case = ForeignKey(references=DisposalCase, index=True)
    status = Varchar(length=16)  # proposed, confirmed, superseded
    gross = BigInt()
    expenses = Text()  # JSON: [{"kind", "amount" (minor units), "document_ids"}] in the order paid
    waterfall_order = Varchar(length=24)
    proposed_by = Varchar(length=64)
    proposed_at = Timestamptz()
    confirmed_by = Varchar(length=64, null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)


class SettlementLine(Table, tablename="settlement_line"):
    id = Serial(primary_key=True)
    settlement = ForeignKey(references=Settlement, index=True)
    kind = Varchar(length=16)  # expense, allocation, surplus, deficiency
    asset_ref = Varchar(length=64, default="")
    lien_ref = Varchar(length=64, default="")
    holder = Varchar(length=255, default="")
    rank = Integer(default=0)
    loan_ref = Varchar(length=64, default="")
    component = Varchar(length=16, default="")  # an allocation's balance component; an expense's kind
    amount = BigInt()
    cash = Boolean(default=True)  # False: settled without cash (our own loans when taken in lieu)


TABLES: list[type[Table]] = [
    DisposalCase,
    CaseAsset,
    CaseLoan,
    AuctionRound,
    RoundBidder,
    Bid,
    SaleOffer,
    Settlement,
    SettlementLine,
]
