"""The bidding decision of an online judicial auction round (DESIGN section 6; 网拍规定 arts. 11, 20, 21). Pure.

One bid in, one Decision out: accepted or refused with the rule and the numbers, and the round's price, leader
and effective end after it. Time is passed in: the server's receipt time is the only clock (art. 20), so a
client's clock never decides whether a bid was in time. A refused bid changes nothing, above all not the end:
an extension by refused bids would let anyone hold the round open for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auctions.rules.pricing import show

# The stored status stays "scheduled" while bidding runs; "bidding" is only how a read shows it, so a caller
# passing the shown status is treated the same rather than refused.
OPEN_STATUSES = frozenset({"scheduled", "bidding"})
ART_20 = "网拍规定 art. 20"
ART_21 = "网拍规定 art. 21"


@dataclass(frozen=True, slots=True)
class Leader:
    bidder: str  # username
    amount: int  # minor units
    preemption_rank: int | None  # 1 = highest right; None = no right
    bid_at: datetime  # server receipt time of the bid that made it leader


@dataclass(frozen=True, slots=True)
class RoundState:
    status: str  # "scheduled" (bids accepted only within the window) | "sold" | "failed" | "defaulted"
    starting_price: int
    increment: int
    starts_at: datetime
    ends_at: datetime  # the ONE effective end; soft close moves it
    soft_close: timedelta  # 5 minutes
    leader: Leader | None
    currency: str


@dataclass(frozen=True, slots=True)
class BidRequest:
    bidder: str
    amount: int
    preemption_rank: int | None  # the bidder's registered right (None = none)
    received_at: datetime  # the server's receipt time


@dataclass(frozen=True, slots=True)
class Decision:
    accepted: bool
    reason: str  # "" when accepted; else the refusal citing the rule and the numbers
    # "" when accepted; else not_open, closed, below_start, below_increment, own_lead or preemption_outranked
    code: str
    price: int | None  # the current price after the decision (unchanged when refused)
    leader: Leader | None  # the leader after the decision (unchanged when refused)
    ends_at: datetime  # unchanged when refused; moved by an accepted bid in the soft-close window
    extended: bool  # True when this decision moved ends_at


def _aware(*moments: datetime) -> None:
    # A naive time compared with an aware one is either a TypeError or, between two naive ones, a silent
    # guess at the zone; both are caller bugs, so say so plainly.
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{moment.isoformat()} has no UTC offset; bidding times must be timezone-aware")


def _check_state(state: RoundState) -> None:
    # The scheduler refuses these (pricing.check_round); a zero increment here would accept equal bids and
    # let two bidders trade the lead at one price.
    if state.starting_price <= 0 or state.increment <= 0 or state.soft_close < timedelta(0):
        raise ValueError("a round needs a positive starting price and increment and a non-negative soft close")
    _aware(state.starts_at, state.ends_at, *((state.leader.bid_at,) if state.leader else ()))


def _outranks(rank: int | None, leader: Leader) -> bool:
    """A tie at the current price goes to the holder of a higher right (a smaller rank number); between equal
    ranks the earlier bid, which is the leader's, since bids are decided one at a time in receipt order."""
    if rank is None:
        return False
    return leader.preemption_rank is None or rank < leader.preemption_rank


def minimum_next_bid(state: RoundState, preemption_rank: int | None = None) -> int:
    """What a bidder with this right (None = none) must bid at least to lead."""
    leader = state.leader
    if leader is None:
        return state.starting_price
    if _outranks(preemption_rank, leader):
        return leader.amount
    return leader.amount + state.increment


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def decide(state: RoundState, bid: BidRequest) -> Decision:
    _check_state(state)
    _aware(bid.received_at)
    if not isinstance(bid.amount, int) or isinstance(bid.amount, bool):
        raise TypeError(f"a bid amount is int minor units, not {type(bid.amount).__name__}")
    leader, cur = state.leader, state.currency
    price = leader.amount if leader else None

    def refuse(code: str, reason: str) -> Decision:
        return Decision(False, reason, code, price, leader, state.ends_at, False)

    if state.status not in OPEN_STATUSES:
        return refuse("closed", f"the round is {state.status}; bids are taken only while it is scheduled")
    if bid.received_at < state.starts_at:
        return refuse(
            "not_open",
            f"bidding opens at {_when(state.starts_at)}; the bid was received at {_when(bid.received_at)} ({ART_20})",
        )
    if bid.received_at >= state.ends_at:
        return refuse(
            "closed",
            f"bidding ended at {_when(state.ends_at)}; the bid was received at {_when(bid.received_at)}, "
            f"and the server's receipt time is the clock ({ART_20})",
        )
    amount = bid.amount
    if leader is None:
        if amount < state.starting_price:
            return refuse(
                "below_start",
                f"bid {show(amount, cur)} is below the starting price {show(state.starting_price, cur)} ({ART_20})",
            )
    elif leader.bidder == bid.bidder:
        return refuse(
            "own_lead", f"bidder already leads at {show(leader.amount, cur)}; a leader cannot raise against itself"
        )
    elif amount < leader.amount + state.increment:
        step = leader.amount + state.increment
        if amount == leader.amount and bid.preemption_rank is not None:
            if _outranks(bid.preemption_rank, leader):
                pass  # the pre-emption tie: same price, the higher right leads
            elif leader.preemption_rank == bid.preemption_rank:
                return refuse(
                    "preemption_outranked",
                    f"a tie at the current price {show(leader.amount, cur)} between pre-emption rights of rank "
                    f"{bid.preemption_rank} goes to the earlier bid, the leader's; at least {show(step, cur)} "
                    f"to lead ({ART_21})",
                )
            else:
                return refuse(
                    "preemption_outranked",
                    f"a tie at the current price {show(leader.amount, cur)} goes to the higher pre-emption right: "
                    f"the leader holds rank {leader.preemption_rank}, this bid rank {bid.preemption_rank}; "
                    f"at least {show(step, cur)} to lead ({ART_21})",
                )
        else:
            tie = (
                f", or exactly {show(leader.amount, cur)} under the pre-emption right of rank {bid.preemption_rank}"
                if _outranks(bid.preemption_rank, leader)
                else ""
            )
            return refuse(
                "below_increment",
                f"bid {show(amount, cur)} is below the current price {show(leader.amount, cur)} plus the increment "
                f"{show(state.increment, cur)}: at least {show(step, cur)}{tie} ({ART_20})",
            )
    # Accepted. Art. 20: a bid in the last soft_close before the end moves the end to its receipt time plus
    # soft_close. At exactly end - soft_close that is the end itself, so the end moves only for bids strictly
    # inside; max() because the end never moves earlier.
    ends_at = state.ends_at
    if bid.received_at >= state.ends_at - state.soft_close:
        ends_at = max(state.ends_at, bid.received_at + state.soft_close)
    new_leader = Leader(bid.bidder, amount, bid.preemption_rank, bid.received_at)
    return Decision(True, "", "", amount, new_leader, ends_at, ends_at != state.ends_at)


def close(state: RoundState, now: datetime) -> str | None:
    """The round's outcome once `now` reaches the effective end: "sold" to the leader (one bid at or above the
    starting price sells, art. 11) or "failed" with no accepted bid. None before the end, and None for a round
    that is no longer open, so closing twice finds nothing to do."""
    _aware(now, state.ends_at)
    if state.status not in OPEN_STATUSES or now < state.ends_at:
        return None
    return "sold" if state.leader is not None else "failed"
