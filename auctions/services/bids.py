"""Bids: one transaction per bid under the round's row lock, every bid kept (refused ones with their reason),
a retry with the same Idempotency-Key answered with the first answer, and the live event published after commit.

The receipt time is taken when the request reaches the service, before it waits for the lock: it is the time
the rules judge (网拍规定 art. 20)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from asyncpg.exceptions import UniqueViolationError

from auctions import live
from auctions.rules.bidding import BidRequest, Decision, Leader, RoundState, decide, minimum_next_bid
from auctions.rules.profiles import profile
from auctions.schemas.bids import BidRead
from auctions.tables import AuctionRound, Bid
from registry import audit, clock
from registry.db import engine, is_postgres, write_transaction
from registry.errors import InvalidInputError, NotFoundError
from registry.money import MoneyError, format_amount, parse_amount

ENTITY = "disposal"
# Refusals that are about the round's state or the bidder's position, not the figure typed: 409, else 422.
CONFLICT_CODES = frozenset({"not_open", "closed", "own_lead", "preemption_outranked", "not_registered"})


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


# The round, its case, the bidder's admission and any first answer to this Idempotency-Key, in one read that
# takes the round's lock: the fewer round trips under the lock, the more bids a hot round takes per second.
_STATE_SQL = """
SELECT r.id, r.status, r.starting_price, r.increment, r.starts_at, r.ends_at, r.current_price, r.leader,
       r.leader_rank, r.leader_bid_at, r.bid_count, c.ref AS case_ref, c.profile AS profile, c.currency AS currency,
       b.alias AS alias, b.preemption_rank AS preemption_rank, b.id AS admitted,
       k.id AS first_id, k.status_code AS first_status, k.response AS first_response
FROM auction_round r
JOIN disposal_case c ON c.id = r."case"
LEFT JOIN round_bidder b ON b.round = r.id AND b.username = {}
LEFT JOIN bid k ON k.round = r.id AND k.bidder = {} AND k.idempotency_key = {}
WHERE r.id = {}
"""


def _numbered(sql: str) -> str:
    """Piccolo's `{}` placeholders as asyncpg's `$1`, `$2`…"""
    return sql.format(*(f"${n}" for n in range(1, sql.count("{}") + 1)))


# NO KEY UPDATE: the bids' inserts check their foreign key with a KEY SHARE lock on the round, which FOR UPDATE
# would block; bids that may lead still queue on this lock one by one.
_STATE_LOCKED_PG = _numbered(_STATE_SQL + " FOR NO KEY UPDATE OF r")

_INSERT_BID_PG = """
INSERT INTO bid (round, bidder, alias, amount, received_at, accepted, code, reason, price_after, ends_at_after,
                 idempotency_key, status_code, response)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id
"""
# An accepted bid: kept, and the round's lead taken, in one statement (the round's row is locked already).
_INSERT_LEADING_BID_PG = f"""
WITH kept AS ({_INSERT_BID_PG}),
led AS (
    UPDATE auction_round SET current_price = $14, leader = $15, leader_rank = $16, leader_bid_at = $17, ends_at = $18,
           bid_count = $19
    WHERE id = $1 RETURNING id
)
SELECT kept.id FROM kept, led
"""  # noqa: S608 - built from a constant of this module, no input


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
        found: dict[str, Any] | None = await connection.fetchrow(_STATE_LOCKED_PG, username, username, key, round_id)
        return found
    rows = await AuctionRound.raw(_STATE_SQL, username, username, key, round_id)
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


async def _keep(
    round_id: int,
    username: str,
    key: str | None,
    row: dict[str, Any],
    bid: BidRequest,
    decision: Decision,
    body: dict[str, Any],
) -> int:
    """Insert the bid with its answer (stored without its id, not known before the insert: a retry gets it
    back from the row), and for an accepted bid take the round's lead; the bid's id."""
    connection = _pg_connection()
    if connection is not None:
        values = (
            round_id,
            username,
            row["alias"],
            bid.amount,
            bid.received_at,
            decision.accepted,
            decision.code,
            decision.reason,
            decision.price,
            decision.ends_at,
            key,
            _status(decision),
            json.dumps(body, default=_iso),
        )
        if not decision.accepted:
            return int(await connection.fetchval(_INSERT_BID_PG, *values))
        leader = decision.leader
        assert leader is not None
        lead = (decision.price, leader.bidder, leader.preemption_rank, leader.bid_at, decision.ends_at)
        return int(await connection.fetchval(_INSERT_LEADING_BID_PG, *values, *lead, row["bid_count"] + 1))
    bid_id = await _insert_bid(round_id, username, key, row, bid, decision, body)
    if decision.accepted:
        await _take_lead(round_id, decision, row)
    return bid_id


async def _insert_bid(
    round_id: int,
    username: str,
    key: str | None,
    row: dict[str, Any],
    bid: BidRequest,
    decision: Decision,
    body: dict[str, Any],
) -> int:
    rows = await Bid.insert(
        Bid(
            round=round_id,
            bidder=username,
            alias=row["alias"],
            amount=bid.amount,
            received_at=bid.received_at,
            accepted=decision.accepted,
            code=decision.code,
            reason=decision.reason,
            price_after=decision.price,
            ends_at_after=decision.ends_at,
            idempotency_key=key,
            status_code=_status(decision),
            response=json.dumps(body, default=_iso),
        )
    ).returning(Bid.id)
    return int(rows[0]["id"])


async def place_bid(round_id: int, amount_text: str, username: str, key: str | None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 201 and the answer for an accepted bid; 409 or 422 with the reason for a refused one."""
    received_at = clock.now()
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInputError.one("Idempotency-Key", "1 to 128 characters")
    try:
        return await _decide_under_lock(round_id, amount_text, username, key, received_at)
    except (UniqueViolationError, sqlite3.IntegrityError):
        # The same Idempotency-Key sent twice at once: the second read the round before the first committed, so it
        # did not see the first's answer; the unique index refused its insert, and it returns that answer now.
        row = await _state(round_id, username, key, lock=False)
        if row is None or row["first_id"] is None:
            raise
        return _first_answer(row)


async def _decide_under_lock(
    round_id: int, amount_text: str, username: str, key: str | None, received_at: Any
) -> tuple[int, dict[str, Any]]:
    async with live.outbox(), write_transaction():
        row = await _state(round_id, username, key, lock=True)
        if row is None:
            raise NotFoundError("round", round_id)
        if row["first_id"] is not None:
            return _first_answer(row)
        currency = row["currency"]
        amount = _amount(amount_text, currency)
        state = round_state(row, row)
        if row["admitted"] is None:
            # Not kept as a bid: only admitted bidders bid, and an outsider's attempts are not the round's history.
            reason = "register with the disposal officer, deposit paid, before bidding"
            current = None if row["current_price"] is None else format_amount(row["current_price"], currency)
            return 409, _problem(
                409, "not_registered", reason, None, row["ends_at"], current, _minimum(state, None, currency)
            )
        bid = BidRequest(username, amount, row["preemption_rank"], received_at)
        decision = decide(state, bid)
        status = _status(decision)
        body = (
            _answer(decision, amount, currency, row["alias"]) if decision.accepted else _refusal(decision, row, state)
        )
        bid_id = await _keep(round_id, username, key, row, bid, decision, body)
        body["bid_id"] = bid_id
        if decision.accepted:
            await audit.record(
                username,
                ENTITY,
                row["case_ref"],
                "bid",
                after={"round_id": round_id, "bid_id": bid_id, "amount": amount, "ends_at": decision.ends_at},
            )
            live.publish_after_commit(
                round_id,
                {
                    "event": "bid",
                    "id": bid_id,
                    "alias": row["alias"],
                    "amount": format_amount(amount, currency),
                    "current_price": format_amount(decision.price or amount, currency),
                    "leader": row["alias"],
                    "ends_at": _iso(decision.ends_at),
                    "extended": decision.extended,
                    "at": _iso(received_at),
                },
                seq=row["bid_count"] + 1,
            )
    return status, json.loads(json.dumps(body, default=_iso))


def _minimum(state: RoundState, preemption_rank: int | None, currency: str) -> str:
    return format_amount(minimum_next_bid(state, preemption_rank), currency)


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else str(value)


def _answer(decision: Decision, amount: int, currency: str, alias: str) -> dict[str, Any]:
    return {
        "accepted": True,
        "amount": format_amount(amount, currency),
        "current_price": None if decision.price is None else format_amount(decision.price, currency),
        "leader": alias,
        "ends_at": decision.ends_at,
    }


async def _take_lead(round_id: int, decision: Decision, row: dict[str, Any]) -> None:
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


async def feed_position(round_id: int) -> tuple[int, int]:
    """(accepted bids so far, the last one's id or 0), read together: where a live feed of the round starts."""
    rows = await AuctionRound.raw(
        "SELECT r.bid_count AS seq, (SELECT MAX(b.id) FROM bid b WHERE b.round = r.id AND b.accepted) AS last_id "
        "FROM auction_round r WHERE r.id = {}",
        round_id,
    )
    return (int(rows[0]["seq"]), int(rows[0]["last_id"] or 0)) if rows else (0, 0)


async def accepted_after(round_id: int, after_id: int, currency: str) -> list[dict[str, Any]]:
    """The accepted bids a reconnecting subscriber missed, as the live events carried them."""
    rows = (
        await Bid.select()
        .where((Bid.round == round_id) & (Bid.accepted == True) & (Bid.id > after_id))  # noqa: E712 - SQL, not Python
        .order_by(Bid.id)
    )
    return [
        {
            "event": "bid",
            "id": r["id"],
            "alias": r["alias"],
            "amount": format_amount(r["amount"], currency),
            "current_price": format_amount(r["price_after"] or r["amount"], currency),
            "leader": r["alias"],
            "ends_at": _iso(r["ends_at_after"]),
            "at": _iso(r["received_at"]),
        }
        for r in rows
    ]


async def bids_of(round_id: int, username: str | None, currency: str) -> list[BidRead]:
    where: Any = Bid.round == round_id
    if username is not None:
        where = where & (Bid.bidder == username)
    rows = await Bid.select().where(where).order_by(Bid.id)
    return [
        BidRead(
            bid_id=r["id"],
            alias=r["alias"],
            amount=format_amount(r["amount"], currency),
            received_at=r["received_at"],
            accepted=r["accepted"],
            reason=r["reason"],
        )
        for r in rows
    ]
