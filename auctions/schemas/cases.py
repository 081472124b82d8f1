"""Request and response shapes of disposal cases, rounds and private-sale offers (DESIGN section 6).

Amounts are decimal strings in the case's currency; times ISO 8601 UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from registry.schemas.fields import Amount, Day, LongText, Moment, Name, Ref

ProfileName = Literal["cn-judicial-online", "cn-commercial", "us-ucc"]
CaseStateName = Literal["open", "auction", "private_sale", "sold", "in_lieu", "settled", "closed", "withdrawn"]
CaseMoveName = Literal["start_private_sale", "take_in_lieu", "withdraw", "close"]
AssetRefs = Annotated[
    list[Ref], msgspec.Meta(min_length=1, max_length=50, extra_json_schema={"extra": {"unique_items": True}})
]


class CaseOpen(msgspec.Struct, forbid_unknown_fields=True):
    ref: Ref
    asset_refs: AssetRefs
    profile: ProfileName


class CaseMoveRequest(msgspec.Struct, forbid_unknown_fields=True):
    to: CaseMoveName
    memo: Annotated[str, msgspec.Meta(max_length=255)] = ""


class LotAssetRead(msgspec.Struct):
    asset_ref: str
    kind: str
    description: str
    status: str
    valuation_id: int
    appraisal: str
    valued_on: date


class CaseLoanRead(msgspec.Struct):
    loan_ref: str
    borrower_ref: str
    exposure_at_open: str
    outstanding: str


class RoundRead(msgspec.Struct):
    round_id: int
    case_ref: str
    number: int
    status: str
    starting_price: str
    increment: str
    deposit: str
    current_price: str | None
    leader: str | None
    notice_published_on: date
    starts_at: datetime
    ends_at: datetime
    closed_at: datetime | None
    bid_count: int
    balance_due_on: date | None
    server_time: datetime  # so a countdown can correct for the browser's clock


class OfferRead(msgspec.Struct):
    id: int
    buyer: str
    price: str
    terms: str
    document_ids: list[int]
    notice_published_on: date
    status: str
    made_by: str
    made_at: datetime
    accepted_by: str | None
    accepted_at: datetime | None


class Deadline(msgspec.Struct):
    what: str
    due_on: date


class CaseRead(msgspec.Struct):
    ref: str
    profile: str
    state: str
    owner_ref: str
    owner_name: str
    currency: str
    appraisal: str
    exposure_at_open: str
    outstanding: str
    assets: list[LotAssetRead]
    loans: list[CaseLoanRead]
    rounds: list[RoundRead]
    offers: list[OfferRead]
    allowed_moves: list[str]
    next_deadline: Deadline | None
    private_sale_started_on: date | None
    private_sale_floor: str | None
    in_lieu_price: str | None
    sale_kind: str | None
    sale_price: str | None
    buyer: str | None
    sold_at: datetime | None
    forfeited_deposits: str
    opened_by: str
    opened_at: datetime
    settled_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None


class CaseSummary(msgspec.Struct):
    ref: str
    profile: str
    state: str
    owner_ref: str
    currency: str
    appraisal: str
    exposure_at_open: str
    asset_refs: list[str]
    opened_at: datetime
    settled_at: datetime | None


class RoundCreate(msgspec.Struct, forbid_unknown_fields=True):
    starting_price: Amount
    increment: Amount
    deposit: Amount
    notice_published_on: Day
    starts_at: Moment
    ends_at: Moment


DocumentIds = Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]], msgspec.Meta(max_length=20)]


class OfferCreate(msgspec.Struct, forbid_unknown_fields=True):
    buyer: Name
    price: Amount
    terms: LongText = ""
    notice_published_on: Day | None = None
    document_ids: DocumentIds = []


class InLieuRequest(msgspec.Struct, forbid_unknown_fields=True):
    memo: Annotated[str, msgspec.Meta(max_length=255)] = ""
