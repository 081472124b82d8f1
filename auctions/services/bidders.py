"""Admitting bidders to a round once their deposit is received, and a winner's default.

A winner who defaulted is barred from the case's later rounds (网拍规定 art. 24); their deposit is forfeited into
the case's proceeds and paid out through the waterfall when the case settles."""

from __future__ import annotations

from typing import Any

from auctions import live
from auctions.rules.case_life import CaseState, RefusedCaseMove, check_move
from auctions.rules.pricing import show
from auctions.rules.profiles import profile
from auctions.schemas.bids import BidderRead, BidderRegister
from auctions.services import case_file
from auctions.services.cases import locked_case, refused
from auctions.services.closing import ENTITY, case_write
from auctions.tables import AuctionRound, DisposalCase, RoundBidder
from registry import audit, clock
from registry.db import lock_row
from registry.errors import FieldErrors, NotFoundError, StateConflictError
from registry.money import format_amount
from registry.roles import Role
from registry.services.common import check_amount
from registry.tables import AppUser

FORFEITED = "forfeited"


async def _round(round_id: int) -> dict[str, Any]:
    row = (
        await AuctionRound.select(*AuctionRound.all_columns(), AuctionRound.case.ref.as_alias("case_ref"))
        .where(AuctionRound.id == round_id)
        .first()
    )
    if row is None:
        raise NotFoundError("round", round_id)
    return dict(row)


def _read(row: dict[str, Any], currency: str) -> BidderRead:
    return BidderRead(
        username=row["username"],
        alias=row["alias"],
        deposit_paid=format_amount(row["deposit_paid"], currency),
        preemption_rank=row["preemption_rank"],
        deposit_status=row["deposit_status"],
        registered_by=row["registered_by"],
        registered_at=row["registered_at"],
    )


async def register_bidder(round_id: int, data: BidderRegister, actor: str) -> BidderRead:
    errors = FieldErrors()
    async with case_write():
        rnd = await _round(round_id)
        case = await locked_case(rnd["case_ref"])
        await lock_row(AuctionRound, round_id)
        rnd = await _round(round_id)
        if rnd["status"] != "scheduled" or rnd["ends_at"] <= clock.now():
            raise StateConflictError(
                f"round {rnd['number']} is {case_file.round_status(rnd)}; bidders join before it ends",
                current=case_file.round_status(rnd),
                allowed=[],
            )
        user = await AppUser.select(AppUser.role, AppUser.active).where(AppUser.username == data.username).first()
        if user is None or not user["active"]:
            errors.add("username", f"no active user {data.username!r}")
        elif user["role"] != Role.BIDDER.value:
            errors.add("username", f"{data.username} is not a bidder")
        currency = case["currency"]
        paid = check_amount(errors, "deposit_paid", data.deposit_paid, currency)
        if paid is not None and paid < rnd["deposit"]:
            errors.add(
                "deposit_paid",
                f"deposit {show(paid, currency)} is below the round's deposit {show(rnd['deposit'], currency)}",
            )
        errors.raise_if_any()
        if await RoundBidder.exists().where((RoundBidder.round == round_id) & (RoundBidder.username == data.username)):
            raise StateConflictError(f"{data.username} is already registered for this round")
        earlier = (
            await RoundBidder.select(RoundBidder.round.number.as_alias("number"))
            .where(
                (RoundBidder.round.case == case["id"])
                & (RoundBidder.username == data.username)
                & (RoundBidder.deposit_status == FORFEITED)
            )
            .first()
        )
        if earlier is not None:
            raise StateConflictError(
                f"{data.username} defaulted as the winner of round {earlier['number']} and is barred from later rounds"
            )
        seq = await RoundBidder.count().where(RoundBidder.round == round_id) + 1
        row: dict[str, Any] = {
            "round": round_id,
            "username": data.username,
            "alias": f"bidder {seq}",
            "deposit_paid": paid,
            "preemption_rank": data.preemption_rank,
            "deposit_status": "held",
            "registered_by": actor,
            "registered_at": clock.now(),
        }
        await RoundBidder.insert(RoundBidder(**row))
        await audit.record(
            actor,
            ENTITY,
            case["ref"],
            "register_bidder",
            after={k: v for k, v in row.items() if k not in ("registered_by", "registered_at")},
        )
    return _read(row, currency)


async def list_bidders(round_id: int) -> list[BidderRead]:
    rnd = await _round(round_id)
    case = await case_file.case_row(rnd["case_ref"])
    rows = await RoundBidder.select().where(RoundBidder.round == round_id).order_by(RoundBidder.id)
    return [_read(r, case["currency"]) for r in rows]


async def alias_of(round_id: int, username: str) -> str | None:
    row = (
        await RoundBidder.select(RoundBidder.alias)
        .where((RoundBidder.round == round_id) & (RoundBidder.username == username))
        .first()
    )
    return None if row is None else str(row["alias"])


async def winner_defaulted(round_id: int, actor: str) -> None:
    """The winner did not pay the balance: the round is defaulted, the deposit forfeited into the case's proceeds,
    the winner barred from later rounds, and the case back to open for the next round or the private sale."""
    async with case_write():
        rnd = await _round(round_id)
        case = await locked_case(rnd["case_ref"])
        rnd = await _round(round_id)
        facts = await case_file.facts(case)
        try:
            check_move(profile(case["profile"]), facts, "winner_defaulted")
        except RefusedCaseMove as exc:
            raise refused(exc) from None
        if rnd["status"] != "sold" or case["sale_kind"] != "auction":
            raise StateConflictError(
                f"round {rnd['number']} is {rnd['status']}; only a sold round's winner can default",
                current=rnd["status"],
                allowed=[],
            )
        winner = (
            await RoundBidder.select()
            .where((RoundBidder.round == round_id) & (RoundBidder.username == rnd["winner"]))
            .first()
        )
        forfeited = int(winner["deposit_paid"]) if winner else 0
        await RoundBidder.update({RoundBidder.deposit_status: FORFEITED}).where(
            (RoundBidder.round == round_id) & (RoundBidder.username == rnd["winner"])
        )
        await AuctionRound.update({AuctionRound.status: "defaulted"}).where(AuctionRound.id == round_id)
        await DisposalCase.update(
            {
                DisposalCase.state: CaseState.OPEN.value,
                DisposalCase.sale_kind: None,
                DisposalCase.sale_price: None,
                DisposalCase.buyer: None,
                DisposalCase.sold_at: None,
                DisposalCase.forfeited_deposits: case["forfeited_deposits"] + forfeited,
            }
        ).where(DisposalCase.id == case["id"])
        await audit.record(
            actor,
            ENTITY,
            case["ref"],
            "winner_defaulted",
            before={"state": case["state"], "winner": rnd["winner"]},
            after={"state": "open", "round_id": round_id, "forfeited": forfeited},
        )
        live.publish_after_commit(round_id, {"event": "status", "status": "defaulted"})
