"""The life of a disposal case (DESIGN section 6) as a table of allowed moves. Pure.

open → (round: scheduled → bidding → sold | failed | defaulted)* → private_sale → in_lieu | sold → settled
→ closed; or withdrawn once the secured loans are repaid. The round's own states live on the round; the
case is `auction` while a round is scheduled or bidding and comes back to `open` when one fails.
Some moves also depend on the profile and the case's history (a private sale only after the profile's
failed rounds); `allowed_moves` filters the table by those conditions, and every refusal names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from auctions.rules.profiles import Profile


class CaseState(StrEnum):
    OPEN = "open"
    AUCTION = "auction"
    PRIVATE_SALE = "private_sale"
    SOLD = "sold"
    IN_LIEU = "in_lieu"
    SETTLED = "settled"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Move(StrEnum):
    SCHEDULE_ROUND = "schedule_round"
    ROUND_SOLD = "round_sold"
    ROUND_FAILED = "round_failed"
    WINNER_DEFAULTED = "winner_defaulted"
    START_PRIVATE_SALE = "start_private_sale"
    ACCEPT_OFFER = "accept_offer"
    TAKE_IN_LIEU = "take_in_lieu"
    SETTLE = "settle"
    CLOSE = "close"
    WITHDRAW = "withdraw"


MOVES: dict[CaseState, dict[Move, CaseState]] = {
    CaseState.OPEN: {
        Move.SCHEDULE_ROUND: CaseState.AUCTION,
        Move.START_PRIVATE_SALE: CaseState.PRIVATE_SALE,
        Move.TAKE_IN_LIEU: CaseState.IN_LIEU,
        Move.WITHDRAW: CaseState.WITHDRAWN,
    },
    CaseState.AUCTION: {
        Move.ROUND_SOLD: CaseState.SOLD,
        Move.ROUND_FAILED: CaseState.OPEN,
        Move.WITHDRAW: CaseState.WITHDRAWN,
    },
    CaseState.PRIVATE_SALE: {
        Move.ACCEPT_OFFER: CaseState.SOLD,
        Move.TAKE_IN_LIEU: CaseState.IN_LIEU,
        Move.WITHDRAW: CaseState.WITHDRAWN,
    },
    CaseState.SOLD: {Move.SETTLE: CaseState.SETTLED, Move.WINNER_DEFAULTED: CaseState.OPEN},
    CaseState.IN_LIEU: {Move.SETTLE: CaseState.SETTLED},
    CaseState.SETTLED: {Move.CLOSE: CaseState.CLOSED},
    CaseState.CLOSED: {},
    CaseState.WITHDRAWN: {},
}

# States in which the lot is still the case's: its assets cannot be in another case.
LIVE = frozenset({CaseState.OPEN, CaseState.AUCTION, CaseState.PRIVATE_SALE, CaseState.SOLD, CaseState.IN_LIEU})
# Moves that follow from a round's close, never from a user's request: not offered as allowed moves.
SYSTEM_MOVES = frozenset({Move.ROUND_SOLD, Move.ROUND_FAILED, Move.WINNER_DEFAULTED})


@dataclass(frozen=True, slots=True)
class FailedRound:
    number: int
    starting_price: int
    ended_on: date


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the conditions of a move read, gathered by the service."""

    state: CaseState
    failed_rounds: tuple[FailedRound, ...]
    rounds_held: int
    outstanding: int  # Σ the secured loans' balances now
    private_sale_started_on: date | None
    today: date


class RefusedCaseMove(Exception):
    def __init__(self, state: CaseState, move: str, reason: str, allowed: list[str]) -> None:
        self.state, self.move, self.allowed = state, move, allowed
        super().__init__(reason)


def private_sale_closes_on(profile: Profile, started_on: date | None) -> date | None:
    if started_on is None or profile.private_sale_days is None:
        return None
    return started_on + timedelta(days=profile.private_sale_days)


def _condition(profile: Profile, facts: CaseFacts, move: Move) -> str | None:
    """Why the profile or the case's history refuses a move the table allows; None when it may go ahead."""
    if move is Move.SCHEDULE_ROUND and profile.max_rounds is not None and facts.rounds_held >= profile.max_rounds:
        return (
            f"{profile.name} allows {profile.max_rounds} auction rounds and {facts.rounds_held} were held; "
            "what remains is a private sale or taking the lot in lieu"
        )
    if move is Move.START_PRIVATE_SALE and len(facts.failed_rounds) < profile.private_sale_after_failed_rounds:
        return (
            f"{profile.name} allows a private sale after {profile.private_sale_after_failed_rounds} failed rounds; "
            f"{len(facts.failed_rounds)} have failed"
        )
    if move is Move.TAKE_IN_LIEU and not facts.failed_rounds:
        return "the lot can be taken in lieu only at the starting price of a failed round, and no round has failed"
    if move is Move.WITHDRAW and facts.outstanding > 0:
        return "a case is withdrawn only when its secured loans are repaid"
    return None


def allowed_moves(profile: Profile, facts: CaseFacts) -> list[str]:
    """What a user may do next: the table's moves from this state that the profile's conditions allow."""
    return [m.value for m in MOVES[facts.state] if m not in SYSTEM_MOVES and _condition(profile, facts, m) is None]


def check_move(profile: Profile, facts: CaseFacts, requested: str) -> CaseState:
    """The state after the move, or RefusedCaseMove naming the state, the reason and the allowed moves."""
    allowed = allowed_moves(profile, facts)
    try:
        move = Move(requested)
    except ValueError:
        raise RefusedCaseMove(facts.state, requested, f"{requested!r} is not a case move", allowed) from None
    target = MOVES[facts.state].get(move)
    if target is None:
        reason = f"a case in state {facts.state.value!r} cannot {move.value}; allowed: {', '.join(allowed) or 'none'}"
        raise RefusedCaseMove(facts.state, requested, reason, allowed)
    why = _condition(profile, facts, move)
    if why is not None:
        raise RefusedCaseMove(facts.state, requested, why, allowed)
    return target
