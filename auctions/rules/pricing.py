"""The profile's checks on prices, notices, deposits, windows and expenses. Pure.

Every check returns the refusals it finds (all of them, not the first), each naming the field, the rule
and the numbers, so an officer sees at once what to change: "starting price 650,000.00 is below 70% of
the appraisal 1,000,000.00 (cn-judicial-online)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from auctions.rules.case_life import FailedRound, private_sale_closes_on
from auctions.rules.profiles import AssetClass, Profile
from registry.money import format_amount

EXPENSE_KINDS = frozenset(
    {"commission", "auction_fee", "court_fee", "valuation_fee", "storage", "legal", "tax", "transfer", "other"}
)


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    reason: str


def show(units: int, currency: str) -> str:
    """An amount as people read it: thousands separated, the currency's decimals."""
    text = format_amount(units, currency)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{frac}" if frac else f"{sign}{grouped}"


def _pct(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _below(amount: int, ratio: Decimal, base: int) -> bool:
    # Exact: amount < ratio x base without rounding either side.
    return Decimal(amount) < ratio * Decimal(base)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    number: int
    starting_price: int
    increment: int
    deposit: int
    notice_published_on: date
    starts_at: datetime
    ends_at: datetime


def check_round(
    profile: Profile,
    plan: RoundPlan,
    *,
    currency: str,
    appraisal: int,
    lot_class: AssetClass,
    last_failed: FailedRound | None,
    now: datetime,
) -> list[Refusal]:
    out: list[Refusal] = []
    name = profile.name
    if plan.starting_price <= 0:
        out.append(Refusal("starting_price", "must be more than zero"))
    if plan.increment <= 0:
        out.append(Refusal("increment", "must be more than zero"))
    first_floor = profile.first_round_floor
    if plan.number == 1 and first_floor is not None and _below(plan.starting_price, first_floor, appraisal):
        out.append(
            Refusal(
                "starting_price",
                f"starting price {show(plan.starting_price, currency)} is below "
                f"{_pct(first_floor)} of the appraisal {show(appraisal, currency)} ({name})",
            )
        )
    if plan.number > 1 and last_failed is not None:
        if profile.next_round_floor is not None and _below(
            plan.starting_price, profile.next_round_floor, last_failed.starting_price
        ):
            out.append(
                Refusal(
                    "starting_price",
                    f"starting price {show(plan.starting_price, currency)} is below "
                    f"{_pct(profile.next_round_floor)} of round {last_failed.number}'s starting price "
                    f"{show(last_failed.starting_price, currency)} ({name})",
                )
            )
        if profile.next_round_within_days is not None:
            latest = last_failed.ended_on + timedelta(days=profile.next_round_within_days)
            if plan.starts_at.date() > latest:
                out.append(
                    Refusal(
                        "starts_at",
                        f"round {plan.number} must start within {profile.next_round_within_days} days of round "
                        f"{last_failed.number}'s failure on {last_failed.ended_on}, by {latest} ({name})",
                    )
                )
    notice_days = profile.notice.days(plan.number, lot_class)
    if plan.notice_published_on > now.date():
        out.append(Refusal("notice_published_on", "the notice must already have been published (not a future date)"))
    elif (plan.starts_at.date() - plan.notice_published_on).days < notice_days:
        out.append(
            Refusal(
                "notice_published_on",
                f"round {plan.number} of {lot_class.value} property needs {notice_days} days' public notice before "
                f"bidding; notice {plan.notice_published_on} to start {plan.starts_at.date()} is "
                f"{(plan.starts_at.date() - plan.notice_published_on).days} days ({name})",
            )
        )
    if profile.deposit_band is not None and plan.starting_price > 0:
        low, high = profile.deposit_band
        if _below(plan.deposit, low, plan.starting_price) or Decimal(plan.deposit) > high * plan.starting_price:
            out.append(
                Refusal(
                    "deposit",
                    f"deposit {show(plan.deposit, currency)} is outside {_pct(low)} to {_pct(high)} of the starting "
                    f"price {show(plan.starting_price, currency)} ({name})",
                )
            )
    if plan.deposit < 0:
        out.append(Refusal("deposit", "must not be negative"))
    if plan.ends_at <= plan.starts_at:
        out.append(Refusal("ends_at", "must be after starts_at"))
    elif profile.min_bidding_hours is not None and plan.ends_at - plan.starts_at < timedelta(
        hours=profile.min_bidding_hours
    ):
        out.append(
            Refusal(
                "ends_at",
                f"bidding must stay open at least {profile.min_bidding_hours} hours; "
                f"{plan.starts_at.isoformat()} to {plan.ends_at.isoformat()} is shorter ({name})",
            )
        )
    if plan.ends_at <= now:
        out.append(Refusal("ends_at", "a round that has already ended cannot be scheduled"))
    return out


def private_sale_floor(profile: Profile, failed: Sequence[FailedRound]) -> int | None:
    """The least price a private sale may take, or None when the profile sets none."""
    if profile.private_sale_at_last_start and failed:
        return failed[-1].starting_price
    return None


def check_offer(
    profile: Profile,
    *,
    price: int,
    currency: str,
    failed: Sequence[FailedRound],
    private_sale_started_on: date | None,
    notice_published_on: date,
    today: date,
    accepting: bool,
) -> list[Refusal]:
    """An offer when made, and again when accepted (the window and the notice count to acceptance)."""
    out: list[Refusal] = []
    name = profile.name
    if price <= 0:
        out.append(Refusal("price", "must be more than zero"))
    floor = private_sale_floor(profile, failed)
    if floor is not None and price < floor:
        out.append(
            Refusal(
                "price",
                f"price {show(price, currency)} is below round {failed[-1].number}'s starting price "
                f"{show(floor, currency)}, the private-sale floor ({name})",
            )
        )
    closes_on = private_sale_closes_on(profile, private_sale_started_on)
    if closes_on is not None and today > closes_on:
        out.append(
            Refusal(
                "price",
                f"the private-sale period of {profile.private_sale_days} days from {private_sale_started_on} "
                f"closed on {closes_on} ({name})",
            )
        )
    if notice_published_on > today:
        out.append(Refusal("notice_published_on", "the notice must already have been published (not a future date)"))
    elif accepting and (today - notice_published_on).days < profile.private_sale_notice_days:
        out.append(
            Refusal(
                "notice_published_on",
                f"a private sale needs {profile.private_sale_notice_days} days between its notice "
                f"({notice_published_on}) and acceptance ({today}) ({name})",
            )
        )
    return out


def in_lieu_price(failed: Sequence[FailedRound]) -> int | None:
    """The creditor takes the lot at the starting price of the round that failed last (拍变规定 art. 16)."""
    return failed[-1].starting_price if failed else None


def check_expenses(
    profile: Profile, *, gross: int, expenses: Sequence[tuple[str, int]], currency: str
) -> list[Refusal]:
    out: list[Refusal] = []
    for i, (kind, amount) in enumerate(expenses):
        if kind not in EXPENSE_KINDS:
            out.append(Refusal(f"expenses[{i}].kind", f"one of {', '.join(sorted(EXPENSE_KINDS))}"))
        if amount < 0:
            out.append(Refusal(f"expenses[{i}].amount", "must not be negative"))
    if profile.commission_cap is not None:
        commission = sum(a for k, a in expenses if k == "commission")
        if Decimal(commission) > profile.commission_cap * gross:
            out.append(
                Refusal(
                    "expenses",
                    f"commission {show(commission, currency)} is above {_pct(profile.commission_cap)} of the gross "
                    f"{show(gross, currency)} ({profile.name})",
                )
            )
    return out
