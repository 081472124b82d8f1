"""What the auction pages show, shaped from the services' answers: times as the pages print them, the admission
form, the minimum next bid by the bidding rule, and the state the room's script starts from. Pure: no Litestar,
no database."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from auctions.rules.bidding import Leader, RoundState, minimum_next_bid
from auctions.schemas.bids import BidderRead, BidderRegister, BidRead
from auctions.schemas.cases import RoundRead
from frontend.amounts import plain_amount
from registry.money import format_amount, parse_amount

# Statuses in which a round still takes bidders and bids (the stored "scheduled" reads as "bidding" in its window).
OPEN = frozenset({"scheduled", "bidding"})
# What the round page says after a redirect (?done=…); anything else is ignored, never echoed.
DONE = {
    "admitted": "Bidder admitted: they can bid as soon as the round is open.",
    "defaulted": "Recorded: the winner defaulted. The deposit is forfeited and the case is open for the next step.",
}
DEPOSIT_STATUS = {
    "held": "Held while the round runs (the winner's is kept against the price)",
    "refundable": "To be refunded to you",
    "forfeited": "Forfeited: the balance was not paid",
    "applied": "Applied to the price",
}

_MSGSPEC_PATH = re.compile(r"^(.*) - at `\$\.?(.*)`$")
_RANK = re.compile(r"^\d{1,2}$")


def iso(moment: datetime) -> str:
    """For the script: UTC with milliseconds and a Z, which every browser's Date.parse reads."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_seconds(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def lot_title(lot: list[Any]) -> str:
    if not lot:
        return "Auction lot"
    first = lot[0].description or lot[0].kind.replace("_", " ").capitalize()
    return first if len(lot) == 1 else f"{first} and {len(lot) - 1} more"


@dataclass
class AdmitForm:
    """The admission form as typed, and the complaints by control; `general` holds what no control is about."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.errors[name] = f"{self.errors[name]}; {reason}" if name in self.errors else reason

    def refused(self, field_errors: list[tuple[str, str]]) -> None:
        for name, reason in field_errors:
            if name in ("username", "deposit_paid", "preemption_rank"):
                self.add(name, reason)
            else:
                self.general.append(f"{name}: {reason}")


def read_admit(form: Mapping[str, Any]) -> tuple[AdmitForm, BidderRegister | None]:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    out = AdmitForm(values={n: text(n) for n in ("username", "deposit_paid", "preemption_rank")})
    if not out.values["username"]:
        out.add("username", "enter the bidder's username")
    if not out.values["deposit_paid"]:
        out.add("deposit_paid", "enter the deposit received, such as 63,000.00")
    rank: int | None = None
    if typed := out.values["preemption_rank"]:
        if _RANK.match(typed) and 1 <= int(typed) <= 99:
            rank = int(typed)
        else:
            out.add("preemption_rank", "a whole number from 1 (the highest right) to 99, or blank for none")
    if out.errors:
        return out, None
    body = {
        "username": out.values["username"],
        "deposit_paid": plain_amount(out.values["deposit_paid"]),
        "preemption_rank": rank,
    }
    try:
        return out, msgspec.convert(body, BidderRegister)
    except msgspec.ValidationError as exc:
        found = _MSGSPEC_PATH.match(str(exc))
        if found:
            out.add(found.group(2), found.group(1))
        else:
            out.general.append(str(exc))
        return out, None


def next_minimum(
    rnd: RoundRead, currency: str, soft_close_minutes: int, seats: list[BidderRead], rank: int | None
) -> str:
    """The least a bidder with this pre-emption rank (None: none) must bid to lead, by the bidding rule itself:
    the starting price with no leader, else the current price plus the increment, or the current price for a
    right that outranks the leader's."""
    leader = None
    if rnd.current_price is not None and rnd.leader is not None:
        leader_rank = next((s.preemption_rank for s in seats if s.alias == rnd.leader), None)
        leader = Leader(rnd.leader, parse_amount(rnd.current_price, currency), leader_rank, rnd.server_time)
    state = RoundState(
        status=rnd.status,
        starting_price=parse_amount(rnd.starting_price, currency),
        increment=parse_amount(rnd.increment, currency),
        starts_at=rnd.starts_at,
        ends_at=rnd.ends_at,
        soft_close=timedelta(minutes=soft_close_minutes),
        leader=leader,
        currency=currency,
    )
    return format_amount(minimum_next_bid(state, rank), currency)


def not_outranked(seats: list[BidderRead], rank: int | None) -> list[str]:
    """Aliases whose lead a bidder of this rank cannot take at the same price (their right is as high or higher):
    the script needs them to keep the minimum next bid right as the lead moves. Empty without a right."""
    if rank is None:
        return []
    return [s.alias for s in seats if s.preemption_rank is not None and s.preemption_rank <= rank]


def accepted_newest_first(every: list[BidRead]) -> list[BidRead]:
    return [b for b in reversed(every) if b.accepted]


def room_state(
    rnd: RoundRead,
    currency: str,
    soft_close_minutes: int,
    feed: list[BidRead],
    *,
    view: str,
    seat: BidderRead | None = None,
    seats: list[BidderRead] | None = None,
) -> dict[str, Any]:
    """What auction-room.js starts from; the event stream keeps it current. Names of bidders only for the staff's
    round page (`view` "manage"), which already lists them."""
    digits = len(rnd.starting_price.partition(".")[2])
    rank = seat.preemption_rank if seat else None
    return {
        "round_id": rnd.round_id,
        "view": view,
        "status": rnd.status,
        "server_time": iso(rnd.server_time),
        "starts_at": iso(rnd.starts_at),
        "ends_at": iso(rnd.ends_at),
        "currency": currency,
        "digits": digits,
        "starting_price": rnd.starting_price,
        "increment": rnd.increment,
        "current_price": rnd.current_price,
        "leader": rnd.leader,
        "last_bid_id": max((b.bid_id for b in feed), default=0),
        "soft_close_minutes": soft_close_minutes,
        "me": seat.alias if seat else None,
        "rank": rank,
        "not_outranked": not_outranked(seats or [], rank),
        "usernames": {s.alias: s.username for s in seats or []} if view == "manage" else {},
    }


def countdown_text(rnd: RoundRead) -> str:
    """The countdown as the server sees it when the page is drawn (the script takes over from there): to the
    start of a round not yet open, else to its one effective end."""
    target = rnd.starts_at if rnd.status == "scheduled" and rnd.server_time < rnd.starts_at else rnd.ends_at
    seconds = math.ceil((target - rnd.server_time).total_seconds())
    if seconds <= 0:
        return "Ended"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"
