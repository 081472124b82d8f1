"""auctions.services.lead_gate: what a worker knows of a round only moves forward, whether it read the round or took
a lead itself; only a read under the round's lock replaces it whatever it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auctions.services import lead_gate

pytestmark = pytest.mark.unit

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def _read(bid_count: int, price: int, leader: str | None) -> dict[str, object]:
    return {
        "status": "bidding",
        "starting_price": 60_000_000,
        "increment": 500_000,
        "starts_at": START,
        "ends_at": START + timedelta(hours=1),
        "current_price": price,
        "leader": leader,
        "leader_rank": None,
        "leader_bid_at": START + timedelta(minutes=bid_count) if leader else None,
        "bid_count": bid_count,
        "case_ref": "C1",
        "profile": "cn-judicial-online",
        "currency": "CNY",
        "alias": "bidder 1",
        "preemption_rank": None,
        "admitted": 1,
    }


def _lead(price: int, leader: str, minute: int, extended: bool = False) -> dict[str, object]:
    ends = START + timedelta(hours=1, minutes=5 if extended else 0)
    return {
        "current_price": price,
        "leader": leader,
        "leader_rank": 1 if leader == "bank" else None,
        "leader_bid_at": START + timedelta(minutes=minute, microseconds=123),
        "ends_at": ends,
    }


async def test_what_is_known_never_goes_back_but_a_locked_read_is_the_round_as_it_is() -> None:
    gate = lead_gate.LeadGate()
    gate.learn("alice", _read(3, 61_000_000, "alice"))
    gate.learn("bob", _read(6, 64_000_000, "bob"))  # a later read
    gate.led(_read(4, 62_000_000, "bob"), _lead(63_500_000, "alice", 11))  # this worker's, committed as the 5th
    gate.learn("bob", _read(5, 63_000_000, "alice"))  # a read from before the later one
    known = gate.as_read("alice")
    assert known is not None
    assert (known["bid_count"], known["current_price"], known["leader"]) == (6, 64_000_000, "bob")
    gate.led(_read(6, 64_000_000, "bob"), _lead(65_000_000, "alice", 13, extended=True))
    known = gate.as_read("bob")
    assert known is not None
    assert (known["bid_count"], known["current_price"], known["leader"]) == (7, 65_000_000, "alice")
    assert known["ends_at"] == START + timedelta(hours=1, minutes=5)
    assert (known["alias"], known["case_ref"]) == ("bidder 1", "C1")
    # Under the round's lock: the round as it is, even at the same count (a round closed since has the count it had).
    closed = {name: value for name, value in _read(7, 65_000_000, "alice").items() if name in lead_gate.ROUND_FIELDS}
    gate.read_locked({**closed, "status": "sold"})
    known = gate.as_read("bob")
    assert known is not None and (known["status"], known["bid_count"]) == ("sold", 7)
