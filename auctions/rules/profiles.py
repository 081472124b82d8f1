"""Rule profiles (DESIGN section 6) as frozen data, chosen per case. Pure.

A profile holds numbers only; the checks that read them live in `pricing.py`, so a new jurisdiction is a
new entry here and never a new branch in the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class AssetClass(StrEnum):
    """Notice periods differ for movables and immovables (网拍规定 art. 12)."""

    MOVABLE = "movable"
    IMMOVABLE = "immovable"


IMMOVABLE_KINDS = frozenset({"real_estate", "land_use_right"})


def asset_class(kinds: frozenset[str] | set[str]) -> AssetClass:
    """A lot with any immovable in it follows the longer immovable notice."""
    return AssetClass.IMMOVABLE if kinds & IMMOVABLE_KINDS else AssetClass.MOVABLE


@dataclass(frozen=True, slots=True)
class NoticeDays:
    first_movable: int
    first_immovable: int
    later_movable: int
    later_immovable: int

    def days(self, round_number: int, cls: AssetClass) -> int:
        if round_number <= 1:
            return self.first_immovable if cls is AssetClass.IMMOVABLE else self.first_movable
        return self.later_immovable if cls is AssetClass.IMMOVABLE else self.later_movable


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    title: str
    # Round 1's starting price as a share of the lot's appraisal; None = the seller sets it freely.
    first_round_floor: Decimal | None
    # A later round's starting price as a share of the previous round's; None = free.
    next_round_floor: Decimal | None
    # A failed round's successor must be scheduled (start) within this many days; None = no limit.
    next_round_within_days: int | None
    # Auction rounds before the private-sale period; None = as many as the seller wants.
    max_rounds: int | None
    notice: NoticeDays
    # The deposit as a share of the starting price, inclusive band; None = free.
    deposit_band: tuple[Decimal, Decimal] | None
    min_bidding_hours: int | None
    soft_close_minutes: int
    # Days a winning bidder has to pay the balance after the hammer (the notice states it; ten is common).
    balance_due_days: int
    # Private sale (变卖): allowed only after this many failed rounds (0 = any time), at no less than the
    # last failed round's starting price when `private_sale_at_last_start`, for this many days.
    private_sale_after_failed_rounds: int
    private_sale_at_last_start: bool
    private_sale_days: int | None
    # Days between an offer's public notice and its acceptance (UCC 9-611: 10 days); 0 = none.
    private_sale_notice_days: int
    # Commission as a share of the gross (拍卖法 art. 56); None = not capped by the rule.
    commission_cap: Decimal | None
    waterfall_order: str
    cites: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="cn-judicial-online",
            title="China, online judicial auction (SPC rules 2016)",
            first_round_floor=Decimal("0.70"),
            next_round_floor=Decimal("0.80"),
            next_round_within_days=30,
            max_rounds=2,
            notice=NoticeDays(first_movable=15, first_immovable=30, later_movable=7, later_immovable=15),
            deposit_band=(Decimal("0.05"), Decimal("0.20")),
            min_bidding_hours=24,
            soft_close_minutes=5,
            balance_due_days=10,
            private_sale_after_failed_rounds=2,
            private_sale_at_last_start=True,
            private_sale_days=60,
            private_sale_notice_days=0,
            commission_cap=None,
            waterfall_order="cn-civil-code",
            cites="网拍规定 arts. 10, 12, 17, 20, 26",
        ),
        Profile(
            name="cn-commercial",
            title="China, commercial auction (Auction Law)",
            first_round_floor=None,
            next_round_floor=None,
            next_round_within_days=None,
            max_rounds=None,
            notice=NoticeDays(first_movable=7, first_immovable=7, later_movable=7, later_immovable=7),
            deposit_band=None,
            min_bidding_hours=None,
            soft_close_minutes=5,
            balance_due_days=10,
            private_sale_after_failed_rounds=0,
            private_sale_at_last_start=False,
            private_sale_days=None,
            private_sale_notice_days=0,
            commission_cap=Decimal("0.05"),
            waterfall_order="cn-civil-code",
            cites="拍卖法 arts. 45, 50, 56; 担保解释 art. 45",
        ),
        Profile(
            name="us-ucc",
            title="United States, UCC Article 9 disposition",
            first_round_floor=None,
            next_round_floor=None,
            next_round_within_days=None,
            max_rounds=None,
            notice=NoticeDays(first_movable=10, first_immovable=10, later_movable=10, later_immovable=10),
            deposit_band=None,
            min_bidding_hours=None,
            soft_close_minutes=5,
            balance_due_days=10,
            private_sale_after_failed_rounds=0,
            private_sale_at_last_start=False,
            private_sale_days=None,
            private_sale_notice_days=10,
            commission_cap=None,
            waterfall_order="cn-civil-code",
            cites="UCC 9-610, 9-611, 9-612, 9-615",
        ),
    )
}


class UnknownProfile(ValueError):
    pass


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(f"unknown rule profile {name!r}; one of {', '.join(PROFILES)}") from None
