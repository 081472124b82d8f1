"""What anyone may see of an auction without signing in: the lot and the round, never the owner, the borrower,
the loans or a bidder's name."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class PublicLotAsset(msgspec.Struct):
    kind: str
    description: str
    address: str


class PublicAuction(msgspec.Struct):
    round_id: int
    case_ref: str
    number: int
    status: str
    profile: str
    currency: str
    appraisal: str
    starting_price: str
    increment: str
    deposit: str
    current_price: str | None
    bid_count: int
    notice_published_on: date
    starts_at: datetime
    ends_at: datetime
    lot: list[PublicLotAsset]
