"""A bid judged on a plain read is kept only if the round is still as that read saw it (PostgreSQL's optimistic
path, auctions/services/bid_statements.py): another bid accepted between the read and the write makes it judged
again, and a round that keeps changing sends it to the round's lock."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from auctions.services import bids, lead_gate, leads
from auctions.tables import AuctionRound, Bid
from registry import audit
from registry.roles import Role
from registry.tables import AuditEvent
from tests.conftest import ENGINE
from tests.integration import test_bidding
from tests.integration.counting import count_calls
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
    # Judged on its first read (an empty round), 640,000 would have led; its write found the round changed, and judged
    # again on the round read under its lock in that transaction (no second read of its own), with Alice's 650,000 in
    # between, it is below the least that leads.
    _below_increment(r, current="650000.00", minimum="655000.00")
    assert race.reads == 1
    kept = await Bid.select(Bid.bidder, Bid.amount, Bid.accepted).where(Bid.round == auction["round"]).order_by(Bid.id)
    assert [(b["bidder"], b["amount"], b["accepted"]) for b in kept] == [
        ("alice", 65_000_000, True),
        ("bob", 64_000_000, False),
    ]
    assert await _lead(auction) == {"current_price": 65_000_000, "leader": "alice", "bid_count": 1}


async def test_a_bid_outbid_in_its_own_worker_is_judged_again_on_what_the_worker_knows(
    client, auction, monkeypatch
) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice"], start=650000, same_worker=True), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    writes = count_calls(monkeypatch, leads, "write_transaction")
    r = await bid(client, auction, "bob", "640000.00")
    # Alice's 650,000 led through this worker's gate while Bob's bid was between its read and its write: judged
    # again on the round as her bid left it, without a second read and without a write that finds the round changed.
    _below_increment(r, current="650000.00", minimum="655000.00")
    assert race.reads == 1
    assert writes == [1]  # Alice's
    kept = await Bid.select(Bid.bidder, Bid.amount, Bid.accepted).where(Bid.round == auction["round"]).order_by(Bid.id)
    assert [(b["bidder"], b["amount"], b["accepted"]) for b in kept] == [
        ("alice", 65_000_000, True),
        ("bob", 64_000_000, False),
    ]


async def test_a_bid_still_leading_on_what_its_worker_knows_takes_the_lead_over_it(
    client, auction, monkeypatch
) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice"], start=640000, same_worker=True), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    r = await bid(client, auction, "bob", "645000.00")
    assert r.status_code == 201, r.text
    assert race.reads == 1
    assert await _lead(auction) == {"current_price": 64_500_000, "leader": "bob", "bid_count": 2}
    assert (await audit.verify()).ok


@pytest.mark.parametrize("remembered_price", [60_000_000, 90_000_000], ids=["would_lead", "would_refuse"])
async def test_what_a_worker_knows_is_checked_by_the_write(client, auction, remembered_price) -> None:
    # The gate remembers a state no read ever saw (a later bid count, another price): judged on it, the bid would
    # lead or be refused; the write's check refuses that state either way, and the bid, read again, is judged on the
    # round as it is.
    gate = lead_gate.of(bids._pg_pool(), auction["round"])
    r = await bid(client, auction, "alice", "650000.00")
    assert r.status_code == 201, r.text
    assert gate.known is not None and gate.known["bid_count"] == 1
    gate.known = {**gate.known, "bid_count": 7, "current_price": remembered_price}
    r = await bid(client, auction, "bob", "655000.00")
    assert r.status_code == 201, r.text
    assert await _lead(auction) == {"current_price": 65_500_000, "leader": "bob", "bid_count": 2}
    assert [b["accepted"] for b in await Bid.select(Bid.accepted).where(Bid.bidder == "bob")] == [True]


async def test_a_bid_the_known_round_refuses_for_good_is_kept_without_a_read(client, auction, monkeypatch) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, [], start=0), times=0)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    assert (await bid(client, auction, "alice", "650000.00")).status_code == 201
    assert (await bid(client, auction, "bob", "640000.00")).status_code == 422  # read: Bob's admission seen
    assert race.reads == 1
    r = await bid(client, auction, "bob", "652000.00")
    # Below 650,000 + 5,000 on the round as this worker knows it (its own lead, a moment ago): refused for good,
    # kept at once, with the price it was judged on.
    _below_increment(r, current="650000.00", minimum="655000.00")
    assert race.reads == 1
    kept = await Bid.select(Bid.bidder, Bid.amount, Bid.code).where(Bid.round == auction["round"]).order_by(Bid.id)
    assert [(b["bidder"], b["amount"], b["code"]) for b in kept][-1] == ("bob", 65_200_000, "below_increment")
    # A bid the known round would accept is judged on a read.
    assert (await bid(client, auction, "bob", "660000.00")).status_code == 201
    assert race.reads == 2


async def test_a_known_round_older_than_a_moment_is_read_again(client, auction, monkeypatch) -> None:
    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, [], start=0), times=0)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    monkeypatch.setattr(lead_gate, "FRESH_SECONDS", 0.0)
    assert (await bid(client, auction, "alice", "650000.00")).status_code == 201
    assert (await bid(client, auction, "bob", "640000.00")).status_code == 422
    assert (await bid(client, auction, "bob", "652000.00")).status_code == 422
    assert race.reads == 2


async def test_a_known_round_closed_since_is_read_again(client, auction) -> None:
    assert (await bid(client, auction, "alice", "650000.00")).status_code == 201
    assert (await bid(client, auction, "bob", "640000.00")).status_code == 422
    # Closed by another worker's sweep: on what this worker knows the next bid is below the increment, but the
    # round is no longer the one judged, so it is read and refused as closed.
    await AuctionRound.update({AuctionRound.status: "failed"}).where(AuctionRound.id == auction["round"])
    r = await bid(client, auction, "bob", "652000.00")
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "closed"


async def test_a_retry_refused_on_the_known_round_gets_the_first_answer(client, auction) -> None:
    assert (await bid(client, auction, "alice", "650000.00")).status_code == 201
    first = await bid(client, auction, "bob", "640000.00", key="bob-1")
    assert first.status_code == 422, first.text
    again = await bid(client, auction, "bob", "640000.00", key="bob-1")
    assert again.status_code == 422, again.text
    assert again.json()["bid_id"] == first.json()["bid_id"]
    assert await Bid.count().where((Bid.bidder == "bob") & (Bid.idempotency_key == "bob-1")) == 1


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
    # Bob's 645,000 read an empty round; after Alice's 640,000 it still leads, now over hers: judged again under the
    # round's lock, it is accepted once, and the round counts two bids.
    r = await bid(client, auction, "bob", "645000.00")
    assert r.status_code == 201, r.text
    assert race.reads == 1
    assert await _lead(auction) == {"current_price": 64_500_000, "leader": "bob", "bid_count": 2}
    assert await Bid.count().where(Bid.round == auction["round"]) == 2
    assert (await audit.verify()).ok


async def _admit_carol(client: Any, app: Any, auction: dict[str, Any]) -> dict[str, str]:
    headers = await user_headers(app, "carol", Role.BIDDER)
    r = await client.post(
        f"/api/rounds/{auction['round']}/bidders",
        headers=auction["officer"],
        json={"username": "carol", "deposit_paid": "63000.00"},
    )
    assert r.status_code == 201, r.text
    return headers


async def test_a_lead_locks_the_round_before_the_audit_chain(client, auction) -> None:
    # Every writer takes its rows first and the chain's lock last (a round's close, a lien's move): a lead that took
    # the chain first could deadlock against one of them. Here the round is locked by another transaction; the lead
    # waits for it without holding the chain, so any other writer of the chain goes on meanwhile.
    holder, other_writer = (
        await asyncpg.connect(os.environ["DATABASE_URL"]),
        await asyncpg.connect(os.environ["DATABASE_URL"]),
    )
    try:
        await holder.execute("BEGIN")
        await holder.execute("SELECT 1 FROM auction_round WHERE id = $1 FOR UPDATE", auction["round"])
        leading = asyncio.create_task(bid(client, auction, "bob", "640000.00"))
        await asyncio.sleep(0.5)
        assert not leading.done()  # waiting for the round
        async with other_writer.transaction():
            assert await other_writer.fetchval("SELECT pg_try_advisory_xact_lock($1)", audit.CHAIN_LOCK)
        await holder.execute("COMMIT")
        r = await asyncio.wait_for(leading, 10)
    finally:
        await holder.close()
        await other_writer.close()
    assert r.status_code == 201, r.text
    assert await _lead(auction) == {"current_price": 64_000_000, "leader": "bob", "bid_count": 1}
    assert (await audit.verify()).ok


async def test_bids_waiting_at_the_gate_are_taken_in_one_transaction_each_judged_after_the_one_before(
    client, auction, monkeypatch
) -> None:
    gate = lead_gate.of(bids._pg_pool(), auction["round"])
    writes = count_calls(monkeypatch, leads, "write_transaction")
    offers = [("alice", "640000.00"), ("bob", "650000.00"), ("alice", "652000.00")]
    async with gate.lock:  # a lead of this worker is being taken: each bid, judged to lead on its read, waits
        answers = []
        for n, (who, amount) in enumerate(offers, start=1):  # one at a time, so they wait in this order
            answers.append(asyncio.create_task(bid(client, auction, who, amount)))
            for _ in range(500):
                if len(gate.waiting) == n:
                    break
                await asyncio.sleep(0.01)
        assert [w.judged.bid.amount for w in gate.waiting] == [64_000_000, 65_000_000, 65_200_000]
    first, second, third = [await asyncio.wait_for(task, 10) for task in answers]
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    # Judged after Bob's 650,000 (the one before it in the batch), Alice's 652,000 is below the increment.
    _below_increment(third, current="650000.00", minimum="655000.00")
    assert writes == [1]  # all three kept by one transaction
    kept = (
        await Bid.select(Bid.id, Bid.bidder, Bid.amount, Bid.accepted, Bid.price_after)
        .where(Bid.round == auction["round"])
        .order_by(Bid.id)
    )
    assert [(b["bidder"], b["amount"], b["accepted"], b["price_after"]) for b in kept] == [
        ("alice", 64_000_000, True, 64_000_000),
        ("bob", 65_000_000, True, 65_000_000),
        ("alice", 65_200_000, False, 65_000_000),
    ]
    assert [first.json()["bid_id"], second.json()["bid_id"], third.json()["bid_id"]] == [b["id"] for b in kept]
    assert await _lead(auction) == {"current_price": 65_000_000, "leader": "bob", "bid_count": 2}
    assert (await audit.verify()).ok
    events = await AuditEvent.select(AuditEvent.actor).where(AuditEvent.action == "bid").order_by(AuditEvent.seq)
    assert [e["actor"] for e in events] == ["alice", "bob"]  # each lead's own bidder, in the chain in their order


async def test_a_lead_whose_round_another_worker_changed_is_judged_again_under_its_lock(
    client, app, auction, monkeypatch
) -> None:
    await _admit_carol(client, app, auction)
    locked: list[int] = []
    decide_under_lock = bids._decide_under_lock

    async def spy(*args: Any) -> Any:
        locked.append(1)
        return await decide_under_lock(*args)

    race = _Interleaving(bids._pg_pool(), "bob", _raises(auction, ["alice", "carol"], start=630000), times=1)
    monkeypatch.setattr(bids, "_pg_pool", lambda: race)
    monkeypatch.setattr(bids, "_decide_under_lock", spy)
    writes = count_calls(monkeypatch, leads, "write_transaction")
    r = await bid(client, auction, "bob", "800000.00")
    assert r.status_code == 201, r.text
    # Judged to lead on an empty round, its write found Alice's lead taken meanwhile by another worker: in the same
    # transaction the round is read under its lock, the bid judged again on it and kept, without going back to read.
    assert race.reads == 1 and locked == [] and writes == [1, 1]  # Alice's, then Bob's one transaction
    assert await _lead(auction) == {"current_price": 80_000_000, "leader": "bob", "bid_count": 2}
    assert await Bid.count().where(Bid.round == auction["round"]) == 2
    assert (await audit.verify()).ok


def _below_increment(r: Any, *, current: str, minimum: str) -> None:
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["current_price"], r.json()["minimum_bid"]) == (
        "below_increment",
        current,
        minimum,
    )


def _raises(of: dict[str, Any], who: list[str], start: int, *, same_worker: bool = False) -> Any:
    """Bids that each lead, by these bidders in turn, from `start` up by 10,000: the n-th on the n-th call; taken by
    another worker (this one's gate knows nothing of them) unless `same_worker`."""

    async def raise_(n: int) -> None:
        amount = start + 10_000 * (n - 1)
        status, body = await bids.place_bid(of["round"], f"{amount}.00", who[(n - 1) % len(who)], None)
        assert status == 201, body
        if not same_worker:
            lead_gate.forget_all()

    return raise_


async def _lead(of: dict[str, Any]) -> dict[str, Any]:
    [row] = await AuctionRound.select(AuctionRound.current_price, AuctionRound.leader, AuctionRound.bid_count).where(
        AuctionRound.id == of["round"]
    )
    return row
