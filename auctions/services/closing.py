"""Closing rounds whose end has passed: by any read after the end and by the service's own sweep, always
under the case's lock, so a close happens exactly once whoever gets there first."""

from __future__ import annotations

from typing import Any

from auctions.rules.case_life import CaseState
from auctions.services import case_file
from auctions.tables import AuctionRound, DisposalCase
from registry import audit, clock
from registry.db import lock_row, write_transaction

ENTITY = "disposal"
OPEN_ROUND = ("scheduled",)


async def close_due_rounds(case: dict[str, Any], actor: str) -> bool:
    """Close every round of the case whose end has passed; True when one was closed. Call inside a write
    transaction with the case locked: the status check and the change are then one step."""
    now = clock.now()
    due = await AuctionRound.select().where(
        (AuctionRound.case == case["id"]) & AuctionRound.status.is_in(list(OPEN_ROUND)) & (AuctionRound.ends_at <= now)
    )
    for row in due:
        await AuctionRound.update({AuctionRound.status: "failed", AuctionRound.closed_at: row["ends_at"]}).where(
            AuctionRound.id == row["id"]
        )
        await DisposalCase.update({DisposalCase.state: CaseState.OPEN.value}).where(DisposalCase.id == case["id"])
        await audit.record(
            actor,
            ENTITY,
            case["ref"],
            "round_failed",
            after={"round_id": row["id"], "number": row["number"], "reason": "no accepted bid by the end"},
        )
    return bool(due)


async def settle_due(case_ref: str) -> None:
    """The close on read: only when a round of the case is due, take the write lock and close it."""
    case = await case_file.case_row(case_ref)
    now = clock.now()
    if not await AuctionRound.exists().where(
        (AuctionRound.case == case["id"]) & AuctionRound.status.is_in(list(OPEN_ROUND)) & (AuctionRound.ends_at <= now)
    ):
        return
    async with write_transaction():
        await lock_row(DisposalCase, case["id"])
        await close_due_rounds(case, "system")
