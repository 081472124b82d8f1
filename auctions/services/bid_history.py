"""A round's bids as they were kept: where a live feed starts, the accepted bids a reconnecting stream missed, and
the bids a page or the API lists."""

from __future__ import annotations

from typing import Any

from auctions.schemas.bids import BidRead
from auctions.services.bid_judgement import iso
from auctions.tables import AuctionRound, Bid
from registry.money import format_amount


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
            "ends_at": iso(r["ends_at_after"]),
            "at": iso(r["received_at"]),
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
