"""Closing rounds whose end has passed: by any read or write of the case after the end and by the service's
own sweep, always under the case's lock and then the round's, so a close happens exactly once whoever gets there
first, and never while a bid that arrived before the end is still being decided (the grace below)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from auctions import live
from auctions.rules.case_life import CaseState
from auctions.rules.profiles import profile
from auctions.services import case_file
from auctions.tables import AuctionRound, DisposalCase, RoundBidder
from registry import audit, clock
from registry.db import lock_row, write_transaction

ENTITY = "disposal"
OPEN_ROUND = ("scheduled",)
# A bid is judged by the time it reached the server; one that arrived just before the end may still be waiting
# for the round's lock. Closing only a moment after the end lets it be decided (and extend the end) first.
CLOSE_GRACE = timedelta(seconds=1)


@asynccontextmanager
async def case_write() -> AsyncIterator[None]:
    """A write transaction on a case whose round events go out after it commits."""
    async with live.outbox(), write_transaction():
        yield


def _due(case_id: int | None = None) -> Any:
    where = AuctionRound.status.is_in(list(OPEN_ROUND)) & (AuctionRound.ends_at <= clock.now() - CLOSE_GRACE)
    return where if case_id is None else where & (AuctionRound.case == case_id)


async def close_due_rounds(case: dict[str, Any], actor: str) -> bool:
    """Close every round of the case whose end has passed; True when one was closed. Call inside a write
    transaction with the case locked: the status check and the change are then one step."""
    closed = False
    for found in await AuctionRound.select(AuctionRound.id).where(_due(case["id"])):
        await lock_row(AuctionRound, found["id"])  # a bid holding the round's lock finishes first
        row = await AuctionRound.select().where(AuctionRound.id == found["id"]).first()
        assert row is not None
        if row["status"] not in OPEN_ROUND or row["ends_at"] > clock.now() - CLOSE_GRACE:
            continue  # closed meanwhile, or a late bid moved the end
        await (_sold if row["leader"] is not None else _failed)(case, row, actor)
        closed = True
    return closed


async def _sold(case: dict[str, Any], row: dict[str, Any], actor: str) -> None:
    due_on = row["ends_at"].date() + timedelta(days=profile(case["profile"]).balance_due_days)
    await AuctionRound.update(
        {
            AuctionRound.status: "sold",
            AuctionRound.winner: row["leader"],
            AuctionRound.hammer_price: row["current_price"],
            AuctionRound.closed_at: row["ends_at"],
            AuctionRound.balance_due_on: due_on,
        }
    ).where(AuctionRound.id == row["id"])
    # Losers' deposits become refundable; the winner's stays held against the balance.
    await RoundBidder.update({RoundBidder.deposit_status: "refundable"}).where(
        (RoundBidder.round == row["id"]) & (RoundBidder.username != row["leader"])
    )
    await DisposalCase.update(
        {
            DisposalCase.state: CaseState.SOLD.value,
            DisposalCase.sale_kind: "auction",
            DisposalCase.sale_price: row["current_price"],
            DisposalCase.buyer: row["leader"],
            DisposalCase.sold_at: row["ends_at"],
        }
    ).where(DisposalCase.id == case["id"])
    await audit.record(
        actor,
        ENTITY,
        case["ref"],
        "round_sold",
        after={"round_id": row["id"], "number": row["number"], "winner": row["leader"], "price": row["current_price"]},
    )
    live.publish_after_commit(row["id"], {"event": "status", "status": "sold", "ends_at": row["ends_at"]})


async def _failed(case: dict[str, Any], row: dict[str, Any], actor: str) -> None:
    await AuctionRound.update({AuctionRound.status: "failed", AuctionRound.closed_at: row["ends_at"]}).where(
        AuctionRound.id == row["id"]
    )
    await RoundBidder.update({RoundBidder.deposit_status: "refundable"}).where(RoundBidder.round == row["id"])
    await DisposalCase.update({DisposalCase.state: CaseState.OPEN.value}).where(DisposalCase.id == case["id"])
    await audit.record(
        actor,
        ENTITY,
        case["ref"],
        "round_failed",
        after={"round_id": row["id"], "number": row["number"], "reason": "no accepted bid by the end"},
    )
    live.publish_after_commit(row["id"], {"event": "status", "status": "failed", "ends_at": row["ends_at"]})


async def settle_due(case_ref: str) -> None:
    """The close on read: only when a round of the case is due, take the write lock and close it."""
    case = await case_file.case_row(case_ref)
    if not await AuctionRound.exists().where(_due(case["id"])):
        return
    async with case_write():
        await lock_row(DisposalCase, case["id"])
        locked = await case_file.case_row(case_ref)
        await close_due_rounds(locked, "system")


async def sweep() -> int:
    """The service's own closing pass over every due round (run periodically by the app)."""
    refs = {r["case_ref"] for r in await AuctionRound.select(AuctionRound.case.ref.as_alias("case_ref")).where(_due())}
    for ref in sorted(refs):
        await settle_due(ref)
    return len(refs)
