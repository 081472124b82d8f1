"""A bid judged on a plain read is kept only if the round is still as that read saw it (PostgreSQL's optimistic
path, auctions/services/bid_statements.py): another bid accepted between the read and the write makes it judged
again, and a round that keeps changing sends it to the round's lock."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import pytest

from auctions.services import bids
from auctions.tables import AuctionRound, Bid
from registry import audit
from registry.roles import Role
from tests.conftest import ENGINE
from tests.integration import test_bidding
from tests.integration.disposal_book import user_headers
from tests.integration.test_bidding import bid

auction = test_bidding.auction  # the fixture: case C1, round 1 bidding, Alice and Bob admitted

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "postgres", reason="SQLite decides every bid in its immediate transaction"),
]


class _Interleaving:
    """The server's pool, but after a chosen bidder's read of the round, another bid runs to its end before the
    chosen one writes: the race a hot round has all the time, made to happen every time."""

    def __init__(self, pool: Any, reader: str, other: Any, times: int) -> None:
        self.pool, self.reader, self.other, self.times = pool, reader, other, times
        self.reads = 0

    @asynccontextmanager
    async def acquire(self):  # type: ignore[no-untyped-def]
        async with self.pool.acquire() as connection:
            yield _Connection(connection, self)


class _Connection:
    def __init__(self, connection: Any, race: _Interleaving) -> None:
        self._connection, self._race = connection, race

    async def fetchrow(self, query: str, *args: Any) -> Any:
        row = await self._connection.fetchrow(query, *args)
        if args[0] == self._race.reader:
            self._race.reads += 1
            if self._race.reads <= self._race.times:
                await self._race.other(self._race.reads)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._connection.fetchval(query, *args)


async def test_a_bid_outbid_between_its_read_and_its_write_is_judged_again(client, auction, monkeypatch) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice"], start=650000), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    r = await bid(client, auction, "bob", "640000.00")
    # Judged on its first read (an empty round), 640,000 would have led; judged again on the round as it is, with
    # Alice's 650,000 in between, it is below the least that leads.
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["current_price"], r.json()["minimum_bid"]) == (
        "below_increment",
        "650000.00",
        "655000.00",
    )
    assert race.reads == 2
    kept = await Bid.select(Bid.bidder, Bid.amount, Bid.accepted).where(Bid.round == auction["round"]).order_by(Bid.id)
    assert [(b["bidder"], b["amount"], b["accepted"]) for b in kept] == [
        ("alice", 65_000_000, True),
        ("bob", 64_000_000, False),
    ]
    assert await _lead(auction) == {"current_price": 65_000_000, "leader": "alice", "bid_count": 1}


async def test_a_bid_below_the_start_stays_refused_without_a_new_read(client, auction, monkeypatch) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice"], start=650000), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    # Judged on an empty round, 620,000 is below the start; after Alice's 650,000 it is below the increment too: a
    # refusal no later state could turn into an acceptance, kept without reading the round again.
    r = await bid(client, auction, "bob", "620000.00")
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "below_start" and r.json()["current_price"] is None  # as judged
    assert race.reads == 1
    kept = await Bid.select(Bid.bidder, Bid.amount, Bid.accepted).where(Bid.round == auction["round"]).order_by(Bid.id)
    assert [(b["bidder"], b["amount"], b["accepted"]) for b in kept] == [
        ("alice", 65_000_000, True),
        ("bob", 62_000_000, False),
    ]


async def test_a_lead_taken_between_read_and_write_is_not_taken_twice(client, auction, monkeypatch) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice"], start=640000), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    # Bob's 645,000 read an empty round; after Alice's 640,000 it still leads, now over hers: judged again, it is
    # accepted once, and the round counts two bids.
    r = await bid(client, auction, "bob", "645000.00")
    assert r.status_code == 201, r.text
    assert race.reads == 2
    assert await _lead(auction) == {"current_price": 64_500_000, "leader": "bob", "bid_count": 2}
    assert await Bid.count().where(Bid.round == auction["round"]) == 2
    assert (await audit.verify()).ok


async def test_a_round_that_keeps_changing_sends_the_bid_to_the_lock(client, app, auction, monkeypatch) -> None:
    await user_headers(app, "carol", Role.BIDDER)
    r = await client.post(
        f"/api/rounds/{auction['round']}/bidders",
        headers=auction["officer"],
        json={"username": "carol", "deposit_paid": "63000.00"},
    )
    assert r.status_code == 201, r.text
    locked: list[int] = []
    decide_under_lock = bids._decide_under_lock

    async def spy(*args: Any) -> Any:
        locked.append(1)
        return await decide_under_lock(*args)

    tries = bids.OPTIMISTIC_TRIES
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice", "carol"], start=630000), times=tries)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    monkeypatch.setattr(bids, "_decide_under_lock", spy)
    r = await bid(client, auction, "bob", "800000.00")
    assert r.status_code == 201, r.text
    assert race.reads == tries and locked == [1]  # every try outdated, then the lock (whose read is not a pool's)
    assert await _lead(auction) == {"current_price": 80_000_000, "leader": "bob", "bid_count": tries + 1}
    assert await Bid.count().where(Bid.round == auction["round"]) == tries + 1


def _raises(of: dict[str, Any], who: list[str], start: int) -> Any:
    """Bids that each lead, by these bidders in turn, from `start` up by 10,000: the n-th on the n-th call."""

    async def raise_(n: int) -> None:
        amount = start + 10_000 * (n - 1)
        status, body = await bids.place_bid(of["round"], f"{amount}.00", who[(n - 1) % len(who)], None)
        assert status == 201, body

    return raise_


async def _lead(of: dict[str, Any]) -> dict[str, Any]:
    [row] = await AuctionRound.select(AuctionRound.current_price, AuctionRound.leader, AuctionRound.bid_count).where(
        AuctionRound.id == of["round"]
    )
    return row
