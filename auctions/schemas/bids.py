"""Shapes of bidders and bids (DESIGN 6's API table): bidders appear to each other only as aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from registry.schemas.fields import Amount, Username


class BidderRegister(msgspec.Struct, forbid_unknown_fields=True):
    username: Username
    deposit_paid: Amount
    preemption_rank: Annotated[int, msgspec.Meta(ge=1, le=99)] | None = None


class BidderRead(msgspec.Struct):
    username: str
    alias: str
    deposit_paid: str
    preemption_rank: int | None
    deposit_status: str
    registered_by: str
    registered_at: datetime


class BidPlace(msgspec.Struct, forbid_unknown_fields=True):
    amount: Amount


class BidAnswer(msgspec.Struct):
    bid_id: int
    accepted: bool
    amount: str
    current_price: str | None
    leader: str | None
    ends_at: datetime


class BidRead(msgspec.Struct):
    bid_id: int
    alias: str
    amount: str
    received_at: datetime
    accepted: bool
    reason: str
