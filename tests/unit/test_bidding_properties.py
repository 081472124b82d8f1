"""Properties of the bidding decision over random sequences of bids, each decided on the state the previous
decision left: random bidders (some with pre-emption rights, two of the same rank), amounts around the price
(ties, one unit short, whole increments), and non-decreasing receipt times around a short window so the soft
close and the edges are hit often."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auctions.rules.bidding import BidRequest, Decision, Leader, RoundState, close, decide, minimum_next_bid

pytestmark = pytest.mark.unit
FAST = settings(max_examples=400, deadline=None)

START = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
SOFT = timedelta(minutes=5)
STEP = 1_000
PRICE = 100_000
# Ranks: two without a right, one rank 1, two of rank 2 (so equal-rank ties happen).
BIDDERS: dict[str, int | None] = {"ann": None, "ben": None, "cai": 1, "dai": 2, "eve": 2}
NAMES = sorted(BIDDERS)
CODES = {"not_open", "closed", "below_start", "below_increment", "own_lead", "preemption_outranked"}


@dataclass(frozen=True)
class Raw:
    who: int
    steps: int  # whole increments over the current price (or the start)
    nudge: int  # a unit or half an increment either side, often none, so exact ties and edges come up
    gap_us: int  # microseconds after the previous bid
    near_end: int | None  # or: this many µs from the current effective end (never before the previous bid)


# Strategies built once (a strategy made per draw costs a validation each time).
GAP = st.one_of(
    st.just(0),
    st.integers(0, 2_000_000),  # within two seconds: same-instant and near-edge bids
    st.integers(0, 400_000_000),  # up to ~7 minutes: around the soft-close window
    st.integers(0, 1_200_000_000),  # up to 20 minutes: past the end
)
SOFT_US = int(SOFT / timedelta(microseconds=1))
NEAR_END = st.one_of(
    st.none(),
    st.sampled_from([None, None, -SOFT_US - 1, -SOFT_US, -SOFT_US + 1, -1, 0]),  # the edges exactly
    st.integers(-SOFT_US - 120_000_000, 2_000_000),
)
RAW = st.builds(
    Raw,
    who=st.integers(0, len(NAMES) - 1),
    steps=st.sampled_from([0, 0, 0, 1, 1, 2, 3, -1, -2]),
    nudge=st.sampled_from([0, 0, 0, 0, -1, 1, STEP // 2]),
    gap_us=GAP,
    near_end=NEAR_END,
)
WINDOW = st.integers(1, 60)  # minutes
FIRST = st.integers(-120_000_000, 1_800_000_000)  # the first bid's offset from the start, in µs


def amount_for(state: RoundState, raw: Raw) -> int:
    base = state.leader.amount if state.leader else state.starting_price
    return base + raw.steps * STEP + raw.nudge


def outranks(rank: int | None, leader: Leader) -> bool:
    return rank is not None and (leader.preemption_rank is None or rank < leader.preemption_rank)


@FAST
@given(window=WINDOW, first=FIRST, raws=st.lists(RAW, min_size=2, max_size=40))
def test_a_sequence_of_bids_keeps_every_invariant(window: int, first: int, raws: list[Raw]) -> None:
    state = RoundState(
        status="scheduled",
        starting_price=PRICE,
        increment=STEP,
        starts_at=START,
        ends_at=START + timedelta(minutes=window),
        soft_close=SOFT,
        leader=None,
        currency="CNY",
    )
    at = START + timedelta(microseconds=first)
    last_accepted: str | None = None
    for raw in raws:
        at += timedelta(microseconds=raw.gap_us)
        if raw.near_end is not None:
            at = max(at, state.ends_at + timedelta(microseconds=raw.near_end))
        name = NAMES[raw.who]
        req = BidRequest(name, amount_for(state, raw), BIDDERS[name], at)
        d: Decision = decide(state, req)
        before = state
        prev = before.leader
        price_before = prev.amount if prev else None

        # ends_at never moves earlier; extended means exactly that it moved.
        assert d.ends_at >= before.ends_at
        assert d.extended == (d.ends_at != before.ends_at)
        if not d.accepted:
            # A refusal changes nothing, and says why.
            assert d.code in CODES and d.reason
            assert (d.price, d.leader, d.ends_at, d.extended) == (price_before, prev, before.ends_at, False)
        else:
            assert (d.code, d.reason) == ("", "")
            # Never at or after the effective end, never before the start.
            assert before.starts_at <= at < before.ends_at
            assert prev is None or prev.bidder != name
            assert d.leader == Leader(name, req.amount, BIDDERS[name], at)
            assert d.price == req.amount >= minimum_next_bid(before, BIDDERS[name])
            if prev is None:
                assert req.amount >= PRICE
            else:
                # Prices never fall; they stand still only on a pre-emption tie by a holder outranking the leader.
                assert req.amount >= prev.amount
                if req.amount == prev.amount:
                    assert outranks(BIDDERS[name], prev)
                else:
                    assert req.amount >= prev.amount + STEP
            # An extension only in the soft-close window, and then to receipt + soft close.
            if d.extended:
                assert at >= before.ends_at - SOFT
                assert d.ends_at == at + SOFT
            last_accepted = name

        # Liveness: an in-window bid by someone else at a full increment (or the start) is never refused, and
        # minimum_next_bid is the exact edge: that amount is accepted, one unit less is not.
        in_window = before.starts_at <= at < before.ends_at
        own = prev is not None and prev.bidder == name
        clear = req.amount >= (prev.amount + STEP if prev else PRICE)
        if in_window and clear and not own:
            assert d.accepted
        if in_window and not own:
            least = minimum_next_bid(before, BIDDERS[name])
            assert decide(before, replace(req, amount=least)).accepted
            assert not decide(before, replace(req, amount=least - 1)).accepted
        # The codes say which rule refused.
        assert (d.code == "own_lead") == (in_window and own)
        assert (d.code in {"not_open", "closed"}) == (not in_window)
        if d.code == "preemption_outranked":
            assert prev is not None and BIDDERS[name] is not None and req.amount == prev.amount
            assert not outranks(BIDDERS[name], prev)

        state = replace(before, leader=d.leader, ends_at=d.ends_at)
        # The leader is always the bidder of the last accepted bid.
        assert (state.leader.bidder if state.leader else None) == last_accepted
        # Bids past the end are refused, so close() before the end always waits.
        assert close(state, state.ends_at - timedelta(microseconds=1)) is None

    outcome = close(state, max(state.ends_at, at))
    if last_accepted is None:
        assert outcome == "failed"
        assert state.leader is None
    else:
        assert outcome == "sold"
        assert state.leader is not None and state.leader.bidder == last_accepted


@settings(max_examples=100, deadline=None)
@given(status=st.sampled_from(["sold", "failed", "defaulted"]), raws=st.lists(RAW, min_size=1, max_size=10))
def test_a_closed_round_refuses_every_bid_and_has_nothing_to_close(status: str, raws: list[Raw]) -> None:
    state = RoundState(status, PRICE, STEP, START, START + timedelta(hours=1), SOFT, None, "CNY")
    at = START
    for raw in raws:
        at += timedelta(microseconds=raw.gap_us % 60_000_000)
        name = NAMES[raw.who]
        d = decide(state, BidRequest(name, amount_for(state, raw) + 10 * STEP, BIDDERS[name], at))
        assert (d.accepted, d.code, d.leader, d.ends_at) == (False, "closed", None, state.ends_at)
    assert close(state, at + timedelta(hours=2)) is None
