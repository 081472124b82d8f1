"""Bids: each judged on one read of its round and kept only if the round is still as read (PostgreSQL; SQLite, and a
caller's own transaction, read and keep under the round's lock), every bid kept (refused ones with their reason), a
retry with the same Idempotency-Key answered with the first answer, and the live event published after commit.

The receipt time is taken when the request reaches the service, before any read or lock: it is the time the rules
judge (网拍规定 art. 20)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from auctions import live
from auctions.rules.bidding import BidRequest, Decision, Leader, RoundState, decide, minimum_next_bid
from auctions.rules.profiles import profile
from auctions.services import bid_statements as sql
from auctions.tables import AuctionRound, Bid
from registry import audit, clock
from registry.db import engine, is_postgres, write_transaction
from registry.errors import InvalidInputError, NotFoundError
from registry.money import MoneyError, format_amount, parse_amount

ENTITY = "disposal"
# Refusals that are about the round's state or the bidder's position, not the figure typed: 409, else 422.
CONFLICT_CODES = frozenset({"not_open", "closed", "own_lead", "preemption_outranked", "not_registered"})
# Refusals about the figure that no later state of an open round could accept: the least that leads only rises.
SURE_REFUSALS = frozenset({"below_start", "below_increment"})


def round_state(row: dict[str, Any], case: dict[str, Any]) -> RoundState:
    leader = (
        Leader(row["leader"], row["current_price"], row["leader_rank"], row["leader_bid_at"])
        if row["leader"] is not None
        else None
    )
    return RoundState(
        status=row["status"],
        starting_price=row["starting_price"],
        increment=row["increment"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        soft_close=timedelta(minutes=profile(case["profile"]).soft_close_minutes),
        leader=leader,
        currency=case["currency"],
    )


def _problem(
    status: int, code: str, reason: str, bid_id: int | None, ends_at: Any, current_price: str | None, minimum: str
) -> dict[str, Any]:
    # The price and the least bid that would lead now travel with the refusal, so a bidder outbid while typing
    # can bid again at once instead of reading the round first (half the requests of a hot round).
    return {
        "type": "about:blank",
        "status": status,
        "title": "Bid refused",
        "detail": reason,
        "code": code,
        "bid_id": bid_id,
        "accepted": False,
        "ends_at": ends_at,
        "current_price": current_price,
        "minimum_bid": minimum,
        **({"errors": [{"field": "amount", "reason": reason}]} if status == 422 else {}),
    }


def _pg_connection() -> Any:
    """The asyncpg connection of the current PostgreSQL transaction, else None. The bid path talks to it straight:
    Piccolo's query building cost more CPU per bid than the rest of the bid's own work, and asyncpg prepares each
    statement once per connection and reuses it."""
    if not is_postgres():
        return None
    transaction = engine().current_transaction.get()
    return None if transaction is None else transaction.connection


async def _state(round_id: int, username: str, key: str | None, *, lock: bool) -> dict[str, Any] | None:
    connection = _pg_connection() if lock else None
    if connection is not None:
        found: dict[str, Any] | None = await connection.fetchrow(sql.STATE_LOCKED_PG, username, username, key, round_id)
        return found
    rows = await AuctionRound.raw(sql.STATE_SQL, username, username, key, round_id)
    return rows[0] if rows else None


def _first_answer(row: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(row["first_status"]), {**json.loads(row["first_response"]), "bid_id": row["first_id"]}


def _amount(amount_text: str, currency: str) -> int:
    try:
        return parse_amount(amount_text, currency)
    except MoneyError as exc:
        raise InvalidInputError.one("amount", str(exc)) from None


def _status(decision: Decision) -> int:
    return 201 if decision.accepted else (409 if decision.code in CONFLICT_CODES else 422)


def _refusal(decision: Decision, row: dict[str, Any], state: RoundState) -> dict[str, Any]:
    currency = row["currency"]
    current = None if row["current_price"] is None else format_amount(row["current_price"], currency)
    minimum = _minimum(state, row["preemption_rank"], currency)
    return _problem(_status(decision), decision.code, decision.reason, None, decision.ends_at, current, minimum)


BidOf = Callable[[int, int | None], BidRequest]  # (amount, preemption rank) -> the bid as received


@dataclass(frozen=True, slots=True)
class Judged:
    """A bid judged on one read of its round: what to keep and what to answer."""

    row: dict[str, Any]
    bid: BidRequest
    decision: Decision
    body: dict[str, Any]

    @property
    def status(self) -> int:
        return _status(self.decision)


def _judge(
    row: dict[str, Any] | None, round_id: int, amount_text: str, bid_of: BidOf
) -> Judged | tuple[int, dict[str, Any]]:
    """The bid judged on `row` (the round as one read saw it), or the answer that needs no judging: the first answer
    to a retried Idempotency-Key, or an outsider's refusal (not kept: an outsider's attempts are not the round's
    history). `bid_of(amount, preemption_rank)` makes the request."""
    if row is None:
        raise NotFoundError("round", round_id)
    if row["first_id"] is not None:
        return _first_answer(row)
    currency = row["currency"]
    amount = _amount(amount_text, currency)
    state = round_state(row, row)
    if row["admitted"] is None:
        reason = "register with the disposal officer, deposit paid, before bidding"
        current = None if row["current_price"] is None else format_amount(row["current_price"], currency)
        return 409, _problem(
            409, "not_registered", reason, None, row["ends_at"], current, _minimum(state, None, currency)
        )
    bid = bid_of(amount, row["preemption_rank"])
    decision = decide(state, bid)
    body = _answer(decision, amount, currency, row["alias"]) if decision.accepted else _refusal(decision, row, state)
    return Judged(row, bid, decision, body)


def _values(round_id: int, key: str | None, judged: Judged) -> tuple[Any, ...]:
    """The bid's row ($1 to $13 of the statements), its answer stored without its id (not known before the insert:
    a retry gets it back from the row)."""
    bid, decision = judged.bid, judged.decision
    return (
        round_id,
        bid.bidder,
        judged.row["alias"],
        bid.amount,
        bid.received_at,
        decision.accepted,
        decision.code,
        decision.reason,
        decision.price,
        decision.ends_at,
        key,
        judged.status,
        json.dumps(judged.body, default=iso),
    )


def _lead(judged: Judged) -> tuple[Any, ...]:
    leader = judged.decision.leader
    assert leader is not None
    return (judged.decision.price, leader.bidder, leader.preemption_rank, leader.bid_at, judged.decision.ends_at)


async def _keep(round_id: int, key: str | None, judged: Judged) -> int:
    """Under the round's lock: insert the bid, and for an accepted bid take the round's lead; the bid's id."""
    connection = _pg_connection()
    values = _values(round_id, key, judged)
    if connection is not None:
        if not judged.decision.accepted:
            return int(await connection.fetchval(sql.INSERT_BID_PG, *values))
        as_read = sql.as_judged(judged.row)
        return int(await connection.fetchval(sql.TAKE_LEAD_IF_UNCHANGED_PG, *values, *as_read, *_lead(judged)))
    rows = await Bid.insert(Bid(**dict(zip(sql.BID_COLUMNS, values, strict=True)))).returning(Bid.id)
    if judged.decision.accepted:
        await _take_lead(round_id, judged)
    return int(rows[0]["id"])


async def _record_accepted(round_id: int, judged: Judged, bid_id: int) -> None:
    """Inside the transaction that took the lead: the audit event, and the live event once it commits."""
    row, bid, decision = judged.row, judged.bid, judged.decision
    currency = row["currency"]
    after = {"round_id": round_id, "bid_id": bid_id, "amount": bid.amount, "ends_at": decision.ends_at}
    await audit.record(bid.bidder, ENTITY, row["case_ref"], "bid", after=after)
    event = {
        "event": "bid",
        "id": bid_id,
        "alias": row["alias"],
        "amount": format_amount(bid.amount, currency),
        "current_price": format_amount(decision.price or bid.amount, currency),
        "leader": row["alias"],
        "ends_at": iso(decision.ends_at),
        "extended": decision.extended,
        "at": iso(bid.received_at),
    }
    live.publish_after_commit(round_id, event, seq=row["bid_count"] + 1)


def _answered(judged: Judged, bid_id: int) -> tuple[int, dict[str, Any]]:
    return judged.status, json.loads(json.dumps({**judged.body, "bid_id": bid_id}, default=iso))


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
        return _first_answer(row)


async def _decide_under_lock(
    round_id: int, amount_text: str, username: str, key: str | None, bid_of: BidOf
) -> tuple[int, dict[str, Any]]:
    """The bid read, judged and kept under the round's lock: SQLite (its immediate transaction is the lock), and
    PostgreSQL when the round kept changing under the optimistic path."""
    async with live.outbox(), write_transaction():
        judged = _judge(await _state(round_id, username, key, lock=True), round_id, amount_text, bid_of)
        if not isinstance(judged, Judged):
            return judged
        bid_id = await _keep(round_id, key, judged)
        if judged.decision.accepted:
            await _record_accepted(round_id, judged, bid_id)
    return _answered(judged, bid_id)


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
    that the round is still as read (bid_statements). None when it kept changing: the caller takes the lock."""
    for _ in range(OPTIMISTIC_TRIES):
        async with pool.acquire() as connection:
            judged = _judge(
                await connection.fetchrow(sql.STATE_PG, username, username, key, round_id),
                round_id,
                amount_text,
                bid_of,
            )
            if not isinstance(judged, Judged):
                return judged
            values = (*_values(round_id, key, judged), *sql.as_judged(judged.row))
            if not judged.decision.accepted:
                keep = (
                    sql.KEEP_SURE_REFUSAL_PG
                    if judged.decision.code in SURE_REFUSALS
                    else sql.KEEP_REFUSED_IF_UNCHANGED_PG
                )
                bid_id = await connection.fetchval(keep, *values)
                if bid_id is not None:
                    return _answered(judged, bid_id)
                continue
        async with live.outbox(), write_transaction():
            bid_id = await _pg_connection().fetchval(sql.TAKE_LEAD_IF_UNCHANGED_PG, *values, *_lead(judged))
            if bid_id is not None:
                await _record_accepted(round_id, judged, bid_id)
        if bid_id is not None:
            return _answered(judged, bid_id)
    return None


def _minimum(state: RoundState, preemption_rank: int | None, currency: str) -> str:
    return format_amount(minimum_next_bid(state, preemption_rank), currency)


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else str(value)


def _answer(decision: Decision, amount: int, currency: str, alias: str) -> dict[str, Any]:
    return {
        "accepted": True,
        "amount": format_amount(amount, currency),
        "current_price": None if decision.price is None else format_amount(decision.price, currency),
        "leader": alias,
        "ends_at": decision.ends_at,
    }


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
