"""A bid judged on one read of its round: the answer to give and the row to keep, or the answer that needs no judging
(a retried Idempotency-Key's first answer, an outsider's refusal). No database here: the paths that read and keep a
bid (auctions.services.bids) judge it with this, once or again on a newer state of the round."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auctions.rules.bidding import BidRequest, Decision, Leader, RoundState, decide, minimum_next_bid
from auctions.rules.profiles import profile
from registry.errors import InvalidInputError, NotFoundError
from registry.money import MoneyError, format_amount, parse_amount

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


def first_answer(row: dict[str, Any]) -> tuple[int, dict[str, Any]]:
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


def judge(
    row: dict[str, Any] | None, round_id: int, amount_text: str, bid_of: BidOf
) -> Judged | tuple[int, dict[str, Any]]:
    """The bid judged on `row` (the round as one read saw it), or the answer that needs no judging: the first answer
    to a retried Idempotency-Key, or an outsider's refusal (not kept: an outsider's attempts are not the round's
    history). `bid_of(amount, preemption_rank)` makes the request."""
    if row is None:
        raise NotFoundError("round", round_id)
    if row["first_id"] is not None:
        return first_answer(row)
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


def bid_values(round_id: int, key: str | None, judged: Judged) -> tuple[Any, ...]:
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


def lead_values(judged: Judged) -> tuple[Any, ...]:
    leader = judged.decision.leader
    assert leader is not None
    return (judged.decision.price, leader.bidder, leader.preemption_rank, leader.bid_at, judged.decision.ends_at)


def answered(judged: Judged, bid_id: int) -> tuple[int, dict[str, Any]]:
    return judged.status, json.loads(json.dumps({**judged.body, "bid_id": bid_id}, default=iso))


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
