"""The bidding decision rule by rule, on both sides of each limit (DESIGN section 6; 网拍规定 arts. 11, 20, 21)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from auctions.rules.bidding import BidRequest, Decision, Leader, RoundState, close, decide, minimum_next_bid

pytestmark = pytest.mark.unit

START = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
END = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
MID = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
FIVE = timedelta(minutes=5)
PRICE = 70_000_000  # 700,000.00
STEP = 100_000  # 1,000.00


def state(leader: Leader | None = None, **over: Any) -> RoundState:
    base = RoundState(
        status="scheduled",
        starting_price=PRICE,
        increment=STEP,
        starts_at=START,
        ends_at=END,
        soft_close=FIVE,
        leader=leader,
        currency="CNY",
    )
    return replace(base, **over)


def lead(bidder: str = "alice", amount: int = PRICE, rank: int | None = None, at: datetime = MID) -> Leader:
    return Leader(bidder, amount, rank, at)


def bid(amount: int, bidder: str = "bob", rank: int | None = None, at: datetime = MID) -> BidRequest:
    return BidRequest(bidder, amount, rank, at)


def assert_refused_unchanged(s: RoundState, d: Decision, code: str, reason: str) -> None:
    assert (d.accepted, d.code, d.reason) == (False, code, reason)
    assert d.price == (s.leader.amount if s.leader else None)
    assert d.leader == s.leader
    assert (d.ends_at, d.extended) == (s.ends_at, False)


# The bidding window [starts_at, ends_at)


def test_a_bid_at_the_start_exactly_is_accepted() -> None:
    d = decide(state(), bid(PRICE, at=START))
    assert (d.accepted, d.code, d.reason, d.price) == (True, "", "", PRICE)
    assert d.leader == Leader("bob", PRICE, None, START)
    assert (d.ends_at, d.extended) == (END, False)


def test_a_bid_before_the_start_is_refused_not_open() -> None:
    s = state()
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE, at=START - US)),
        "not_open",
        "bidding opens at 2026-06-02T10:00:00+00:00; the bid was received at 2026-06-02T09:59:59.999999+00:00 "
        "(网拍规定 art. 20)",
    )


def test_a_bid_just_before_the_end_is_accepted() -> None:
    assert decide(state(), bid(PRICE, at=END - US)).accepted


def test_a_bid_at_the_end_exactly_is_refused_closed() -> None:
    s = state(lead())
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE + STEP, at=END)),
        "closed",
        "bidding ended at 2026-06-03T10:00:00+00:00; the bid was received at 2026-06-03T10:00:00+00:00, "
        "and the server's receipt time is the clock (网拍规定 art. 20)",
    )


def test_times_are_shown_in_utc_whatever_the_zone_given() -> None:
    beijing = END.astimezone(ZoneInfo("Asia/Shanghai"))
    d = decide(state(), bid(PRICE, at=beijing + timedelta(hours=1)))
    assert d.code == "closed"
    assert "the bid was received at 2026-06-03T11:00:00+00:00" in d.reason


@pytest.mark.parametrize("status", ["sold", "failed", "defaulted"])
def test_a_round_no_longer_scheduled_takes_no_bid_even_inside_its_window(status: str) -> None:
    s = state(lead(), status=status)
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE + 10 * STEP)),
        "closed",
        f"the round is {status}; bids are taken only while it is scheduled",
    )


def test_the_shown_status_bidding_counts_as_scheduled() -> None:
    assert decide(state(status="bidding"), bid(PRICE)).accepted


# The starting price (art. 20) and one bidder (art. 11)


def test_a_first_bid_below_the_starting_price_is_refused() -> None:
    s = state()
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE - 1)),
        "below_start",
        "bid 699,999.99 is below the starting price 700,000.00 (网拍规定 art. 20)",
    )


@pytest.mark.parametrize("amount", [0, -100])
def test_zero_and_negative_first_bids_are_below_the_start(amount: int) -> None:
    d = decide(state(), bid(amount))
    assert (d.accepted, d.code) == (False, "below_start")


@pytest.mark.parametrize("amount", [PRICE, PRICE + 1, PRICE + 50 * STEP])
def test_a_first_bid_at_or_above_the_starting_price_leads(amount: int) -> None:
    d = decide(state(), bid(amount))
    assert (d.accepted, d.price, d.leader) == (True, amount, Leader("bob", amount, None, MID))


def test_a_first_bid_need_not_be_a_whole_increment_above_the_start() -> None:
    # The increment counts from the current price; there is none before the first bid.
    assert decide(state(), bid(PRICE + STEP // 2)).accepted


def test_the_amounts_follow_the_currencys_decimals() -> None:
    d = decide(state(currency="JPY", starting_price=700_000), bid(699_999))
    assert d.reason == "bid 699,999 is below the starting price 700,000 (网拍规定 art. 20)"


# The increment (art. 20)


def test_the_increment_over_the_current_price_exactly_takes_the_lead() -> None:
    d = decide(state(lead()), bid(PRICE + STEP))
    assert (d.accepted, d.price, d.leader) == (True, PRICE + STEP, Leader("bob", PRICE + STEP, None, MID))


def test_a_bid_short_of_the_increment_by_one_cent_is_refused() -> None:
    s = state(lead())
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE + STEP - 1)),
        "below_increment",
        "bid 700,999.99 is below the current price 700,000.00 plus the increment 1,000.00: at least 701,000.00 "
        "(网拍规定 art. 20)",
    )


def test_half_an_increment_is_refused_naming_the_minimum() -> None:
    s = state(lead())
    assert_refused_unchanged(
        s,
        decide(s, bid(70_050_000)),
        "below_increment",
        "bid 700,500.00 is below the current price 700,000.00 plus the increment 1,000.00: at least 701,000.00 "
        "(网拍规定 art. 20)",
    )


@pytest.mark.parametrize("amount", [PRICE - 1, 0, -1])
def test_bids_below_the_current_price_are_below_the_increment(amount: int) -> None:
    d = decide(state(lead()), bid(amount))
    assert (d.accepted, d.code) == (False, "below_increment")


# The leader cannot bid against itself


def test_the_leader_cannot_raise_its_own_bid() -> None:
    s = state(lead("alice"))
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE + 5 * STEP, bidder="alice")),
        "own_lead",
        "bidder already leads at 700,000.00; a leader cannot raise against itself",
    )


def test_a_leader_holding_a_right_cannot_tie_itself_either() -> None:
    d = decide(state(lead("alice", rank=1)), bid(PRICE, bidder="alice", rank=1))
    assert d.code == "own_lead"


def test_another_bidder_can_take_the_lead_back_from_the_one_who_took_it() -> None:
    s = state(lead("alice"))
    first = decide(s, bid(PRICE + STEP, bidder="bob"))
    back = decide(replace(s, leader=first.leader), bid(PRICE + 2 * STEP, bidder="alice"))
    assert back.accepted and back.leader is not None and back.leader.bidder == "alice"


# Pre-emption (art. 21)


@pytest.mark.parametrize("rank", [1, 2, 7])
def test_a_holder_tying_a_leader_without_a_right_takes_the_lead(rank: int) -> None:
    d = decide(state(lead("alice")), bid(PRICE, rank=rank))
    assert (d.accepted, d.code, d.price) == (True, "", PRICE)
    assert d.leader == Leader("bob", PRICE, rank, MID)


def test_a_higher_right_tying_a_lower_right_takes_the_lead() -> None:
    d = decide(state(lead("alice", rank=2)), bid(PRICE, rank=1))
    assert d.accepted and d.leader == Leader("bob", PRICE, 1, MID)


def test_a_lower_right_cannot_take_the_lead_from_a_higher_one_by_a_tie() -> None:
    s = state(lead("alice", rank=1))
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE, rank=2)),
        "preemption_outranked",
        "a tie at the current price 700,000.00 goes to the higher pre-emption right: the leader holds rank 1, "
        "this bid rank 2; at least 701,000.00 to lead (网拍规定 art. 21)",
    )


def test_between_equal_rights_the_earlier_bid_keeps_the_lead() -> None:
    s = state(lead("alice", rank=2, at=MID))
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE, rank=2, at=MID + timedelta(seconds=1))),
        "preemption_outranked",
        "a tie at the current price 700,000.00 between pre-emption rights of rank 2 goes to the earlier bid, "
        "the leader's; at least 701,000.00 to lead (网拍规定 art. 21)",
    )


def test_a_bidder_without_a_right_cannot_tie() -> None:
    s = state(lead("alice"))
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE)),
        "below_increment",
        "bid 700,000.00 is below the current price 700,000.00 plus the increment 1,000.00: at least 701,000.00 "
        "(网拍规定 art. 20)",
    )


def test_a_holder_may_tie_only_exactly_the_current_price() -> None:
    s = state(lead("alice"))
    assert_refused_unchanged(
        s,
        decide(s, bid(PRICE + 1, rank=1)),
        "below_increment",
        "bid 700,000.01 is below the current price 700,000.00 plus the increment 1,000.00: at least 701,000.00, "
        "or exactly 700,000.00 under the pre-emption right of rank 1 (网拍规定 art. 20)",
    )
    assert decide(s, bid(PRICE - 1, rank=1)).code == "below_increment"


def test_an_outranked_holder_is_told_only_the_increment() -> None:
    d = decide(state(lead("alice", rank=1)), bid(PRICE + 1, rank=2))
    assert d.reason.endswith("at least 701,000.00 (网拍规定 art. 20)")


@pytest.mark.parametrize("leader_rank", [None, 1, 3])
def test_a_holder_may_also_outbid_normally_whoever_leads(leader_rank: int | None) -> None:
    d = decide(state(lead("alice", rank=leader_rank)), bid(PRICE + STEP, rank=3))
    assert d.accepted and d.leader == Leader("bob", PRICE + STEP, 3, MID)


def test_a_holder_who_took_the_lead_by_a_tie_is_outbid_only_by_the_increment() -> None:
    s = state(lead("carol", rank=1))
    assert decide(s, bid(PRICE, rank=None)).code == "below_increment"
    assert decide(s, bid(PRICE + STEP)).accepted


# The least next bid


@pytest.mark.parametrize(
    ("leader", "rank", "least"),
    [
        (None, None, PRICE),
        (None, 1, PRICE),
        (lead(), None, PRICE + STEP),
        (lead(), 1, PRICE),
        (lead(rank=2), 1, PRICE),
        (lead(rank=2), 2, PRICE + STEP),
        (lead(rank=1), 2, PRICE + STEP),
    ],
)
def test_minimum_next_bid(leader: Leader | None, rank: int | None, least: int) -> None:
    s = state(leader)
    assert minimum_next_bid(s, rank) == least
    if leader is not None:
        # The minimum is accepted and one unit less is not (a tie below the increment is a refusal).
        assert decide(s, bid(least, rank=rank)).accepted
        assert not decide(s, bid(least - 1, rank=rank)).accepted


def test_minimum_next_bid_without_a_rank_defaults_to_none() -> None:
    assert minimum_next_bid(state(lead(rank=3))) == PRICE + STEP


# Soft close (art. 20): only accepted bids move the one effective end


def test_an_accepted_bid_a_second_before_the_end_extends_to_receipt_plus_five_minutes() -> None:
    at = END - timedelta(seconds=1)
    d = decide(state(lead()), bid(PRICE + STEP, at=at))
    assert d.accepted
    assert (d.ends_at, d.extended) == (at + FIVE, True)


def test_a_refused_bid_a_second_before_the_end_does_not_extend() -> None:
    s = state(lead())
    for refused in (bid(PRICE + 1, at=END - timedelta(seconds=1)), bid(PRICE + STEP, "alice", at=END - US)):
        d = decide(s, refused)
        assert not d.accepted
        assert (d.ends_at, d.extended) == (END, False)


def test_a_bid_five_minutes_before_the_end_exactly_is_in_the_window() -> None:
    # Receipt + 5 minutes is the end itself: the rule applies, and the end is where it was.
    d = decide(state(), bid(PRICE, at=END - FIVE))
    assert d.accepted
    assert (d.ends_at, d.extended) == (END, False)


def test_a_bid_one_microsecond_into_the_window_moves_the_end_by_that_microsecond() -> None:
    d = decide(state(), bid(PRICE, at=END - FIVE + US))
    assert (d.ends_at, d.extended) == (END + US, True)


def test_a_bid_just_before_the_window_does_not_extend() -> None:
    d = decide(state(), bid(PRICE, at=END - FIVE - US))
    assert d.accepted
    assert (d.ends_at, d.extended) == (END, False)


def test_an_extended_end_is_the_one_end_for_the_next_bid() -> None:
    s = state(lead())
    first = decide(s, bid(PRICE + STEP, at=END - timedelta(seconds=10)))
    s = replace(s, leader=first.leader, ends_at=first.ends_at)
    # After the original end, before the extended one: accepted and extended again.
    second = decide(s, bid(PRICE + 2 * STEP, "carol", at=END + timedelta(minutes=4)))
    assert second.accepted and second.ends_at == END + timedelta(minutes=9)
    # At the extended end: closed, naming it.
    late = decide(s, bid(PRICE + 2 * STEP, "carol", at=first.ends_at))
    assert late.code == "closed" and "bidding ended at 2026-06-03T10:04:50+00:00" in late.reason


# Close


def test_close_is_none_before_the_end() -> None:
    assert close(state(lead()), END - US) is None


def test_close_at_the_end_sells_to_the_one_bidder() -> None:
    s = state()
    d = decide(s, bid(PRICE))
    closed = replace(s, leader=d.leader, ends_at=d.ends_at)
    assert close(closed, END) == "sold"
    assert close(closed, END + timedelta(days=3)) == "sold"


def test_close_without_an_accepted_bid_fails() -> None:
    s = state()
    assert not decide(s, bid(PRICE - 1)).accepted
    assert close(s, END) == "failed"


def test_close_waits_for_the_extended_end() -> None:
    s = state()
    d = decide(s, bid(PRICE, at=END - timedelta(seconds=1)))
    extended = replace(s, leader=d.leader, ends_at=d.ends_at)
    assert close(extended, END) is None
    assert close(extended, d.ends_at) == "sold"


@pytest.mark.parametrize("status", ["sold", "failed", "defaulted"])
def test_a_closed_round_has_nothing_to_close(status: str) -> None:
    assert close(state(lead(), status=status), END + timedelta(hours=1)) is None


# Inputs


def test_naive_times_are_refused_loudly() -> None:
    naive = datetime(2026, 6, 2, 12, 0)
    with pytest.raises(ValueError, match="no UTC offset"):
        decide(state(), bid(PRICE, at=naive))
    with pytest.raises(ValueError, match="no UTC offset"):
        decide(state(starts_at=naive), bid(PRICE))
    with pytest.raises(ValueError, match="no UTC offset"):
        decide(state(lead(at=naive)), bid(PRICE + STEP))
    with pytest.raises(ValueError, match="no UTC offset"):
        close(state(), naive)


def test_amounts_are_integers_never_floats() -> None:
    with pytest.raises(TypeError, match="int minor units"):
        decide(state(), bid(70_000_000.0))  # type: ignore[arg-type]


@pytest.mark.parametrize("over", [{"increment": 0}, {"starting_price": 0}, {"soft_close": -US}])
def test_a_malformed_round_is_a_caller_bug(over: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive starting price"):
        decide(state(**over), bid(PRICE))
