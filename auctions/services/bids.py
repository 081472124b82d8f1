"""Bids: each judged on one read of its round and kept only if the round is still as read (PostgreSQL; SQLite, and a
caller's own transaction, read and keep under the round's lock), every bid kept (refused ones with their reason), a
retry with the same Idempotency-Key answered with the first answer, and the live event published after commit. On
PostgreSQL a worker also uses what it knows of the round (lead_gate): a bid that the newest state it knows refuses
for good is kept without a read, and its bids that may lead take the lead one at a time; every write still checks the
round in SQL, so what a worker knows only saves work, it never decides.

The receipt time is taken when the request reaches the service, before any read or lock: it is the time the rules
judge (网拍规定 art. 20)."""

from __future__ import annotations

import sqlite3
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from auctions import live
from auctions.rules.bidding import BidRequest
from auctions.services import bid_statements as sql
from auctions.services import lead_gate, leads
from auctions.services.bid_judgement import (
    SURE_REFUSALS,
    BidOf,
    Judged,
    answered,
    bid_values,
    first_answer,
    judge,
)
from auctions.tables import AuctionRound, Bid
from registry import clock
from registry.db import engine, is_postgres, write_transaction
from registry.errors import InvalidInputError


async def _state(round_id: int, username: str, key: str | None, *, lock: bool) -> dict[str, Any] | None:
    connection = leads.transaction_connection() if lock else None
    if connection is not None:
        found: dict[str, Any] | None = await connection.fetchrow(sql.STATE_LOCKED_PG, username, username, key, round_id)
        return found
    rows = await AuctionRound.raw(sql.STATE_SQL, username, username, key, round_id)
    return rows[0] if rows else None


async def _keep(round_id: int, key: str | None, judged: Judged) -> int:
    """Under the round's lock: insert the bid, and for an accepted bid take the round's lead; the bid's id."""
    connection = leads.transaction_connection()
    values = bid_values(round_id, key, judged)
    if connection is not None:
        if not judged.decision.accepted:
            return int(await connection.fetchval(sql.INSERT_BID_PG, *values))
        ids = await leads.take_leads(connection, round_id, [(key, judged)])
        assert ids is not None  # under the round's lock the round is as judged
        return ids[0]
    rows = await Bid.insert(Bid(**dict(zip(sql.BID_COLUMNS, values, strict=True)))).returning(Bid.id)
    if judged.decision.accepted:
        await _take_lead(round_id, judged)
    return int(rows[0]["id"])


async def place_bid(round_id: int, amount_text: str, username: str, key: str | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 201 and the answer for an accepted bid; 409 or 422 with the reason for a refused one."""
    received_at = clock.now()
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInputError.one("Idempotency-Key", "1 to 128 characters")

    def bid_of(amount: int, preemption_rank: int | None) -> BidRequest:
        return BidRequest(username, amount, preemption_rank, received_at)

    try:
        pool = _pg_pool()
        if pool is not None:
            answer = await _decide_optimistically(pool, round_id, amount_text, username, key, bid_of)
            if answer is not None:
                return answer
        return await _decide_under_lock(round_id, amount_text, username, key, bid_of)
    except (UniqueViolationError, sqlite3.IntegrityError):
        # The same Idempotency-Key sent twice at once: the second read the round before the first committed, so it
        # did not see the first's answer; the unique index refused its insert, and it returns that answer now.
        row = await _state(round_id, username, key, lock=False)
        if row is None or row["first_id"] is None:
            raise
        return first_answer(row)


async def _decide_under_lock(
    round_id: int, amount_text: str, username: str, key: str | None, bid_of: BidOf
) -> tuple[int, dict[str, Any]]:
    """The bid read, judged and kept under the round's lock: SQLite (its immediate transaction is the lock), and
    PostgreSQL when the round kept changing under the optimistic path."""
    async with live.outbox(), write_transaction():
        judged = judge(await _state(round_id, username, key, lock=True), round_id, amount_text, bid_of)
        if not isinstance(judged, Judged):
            return judged
        bid_id = await _keep(round_id, key, judged)
        if judged.decision.accepted:
            await leads.record_leads(round_id, [(judged, bid_id)])
    return answered(judged, bid_id)


# Tries on a plain read before a bid waits for the round's lock instead: each failed try means another bid changed
# the round between this one's read and its write, which a hot round sees now and then, not over and over.
OPTIMISTIC_TRIES = 8


def _pg_pool() -> Any:
    """The server's PostgreSQL pool, else None: SQLite, the command line (it runs without one), and a caller's own
    transaction (the demo's), whose uncommitted round another connection could not see."""
    if not is_postgres() or engine().current_transaction.get() is not None:
        return None
    return engine().pool


async def _decide_optimistically(
    pool: Any, round_id: int, amount_text: str, username: str, key: str | None, bid_of: BidOf
) -> tuple[int, dict[str, Any]] | None:
    """PostgreSQL: the bid judged on a plain read and kept by one statement that checks, under the round's row lock,
    that the round is still as read (bid_statements); a bid that may lead goes through this worker's gate for the
    round (lead_gate). None when the round kept changing: the caller takes the lock."""
    gate = lead_gate.of(pool, round_id)
    answer = await _refuse_on_what_is_known(pool, gate, round_id, amount_text, username, key, bid_of)
    if answer is not None:
        return answer
    for _ in range(OPTIMISTIC_TRIES):
        async with pool.acquire() as connection:
            row = await connection.fetchrow(sql.STATE_PG, username, username, key, round_id)
            if row is not None:
                gate.learn(username, row)
            judged = judge(row, round_id, amount_text, bid_of)
            if not isinstance(judged, Judged):
                return judged
            if not judged.decision.accepted:
                bid_id = await _keep_refusal(connection, round_id, key, judged)
                if bid_id is not None:
                    return answered(judged, bid_id)
                continue
        answer = await _through_gate(pool, gate, round_id, amount_text, key, bid_of, judged)
        if answer is not None:
            return answer
    return None


async def _through_gate(
    pool: Any,
    gate: lead_gate.LeadGate,
    round_id: int,
    amount_text: str,
    key: str | None,
    bid_of: BidOf,
    judged: Judged,
) -> tuple[int, dict[str, Any]] | None:
    """A bid judged to lead, taken at this worker's gate with the others waiting there (auctions.services.leads); one
    that no longer leads when its turn comes is kept as refused after leaving the gate. None when another worker
    changed the round (the caller reads it again)."""
    outcome = await leads.through_gate(gate, round_id, amount_text, key, bid_of, judged)
    if isinstance(outcome, Judged):
        return await _refuse_on(pool, gate, round_id, key, outcome)
    return outcome


async def _refuse_on_what_is_known(
    pool: Any, gate: lead_gate.LeadGate, round_id: int, amount_text: str, username: str, key: str | None, bid_of: BidOf
) -> tuple[int, dict[str, Any]] | None:
    """A bid that the newest state this worker knows refuses for good, kept without a read while the round is that
    state or a later one; None for any other bid, or when the round moved otherwise (the caller reads it). A retry of
    a key already answered is told apart by the unique index (place_bid answers it with the first answer)."""
    row = gate.as_read(username)
    if row is None:
        return None
    judged = judge(row, round_id, amount_text, bid_of)
    if not isinstance(judged, Judged) or judged.decision.code not in SURE_REFUSALS:
        return None
    return await _refuse_on(pool, gate, round_id, key, judged)


async def _refuse_on(
    pool: Any, gate: lead_gate.LeadGate, round_id: int, key: str | None, judged: Judged
) -> tuple[int, dict[str, Any]] | None:
    """A bid refused on what this worker knows, kept if the round is still that state (or, for good refusals, a later
    one); else None, and the worker forgets it (the caller reads the round)."""
    async with pool.acquire() as connection:
        bid_id = await _keep_refusal(connection, round_id, key, judged)
    if bid_id is None:
        gate.forget()
        return None
    return answered(judged, bid_id)


async def _keep_refusal(connection: Any, round_id: int, key: str | None, judged: Judged) -> int | None:
    """A refused bid kept while the round is as judged (a sure refusal: or a later state of it); else None."""
    keep = sql.KEEP_SURE_REFUSAL_PG if judged.decision.code in SURE_REFUSALS else sql.KEEP_REFUSED_IF_UNCHANGED_PG
    bid_id = await connection.fetchval(keep, *bid_values(round_id, key, judged), *sql.as_judged(judged.row))
    return None if bid_id is None else int(bid_id)


async def _take_lead(round_id: int, judged: Judged) -> None:
    decision, row = judged.decision, judged.row
    leader = decision.leader
    assert leader is not None
    await AuctionRound.update(
        {
            AuctionRound.current_price: decision.price,
            AuctionRound.leader: leader.bidder,
            AuctionRound.leader_rank: leader.preemption_rank,
            AuctionRound.leader_bid_at: leader.bid_at,
            AuctionRound.ends_at: decision.ends_at,
            AuctionRound.bid_count: row["bid_count"] + 1,
        }
    ).where(AuctionRound.id == round_id)
