"""The public auction listing (DESIGN 10: readable without signing in, under /api/public/)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from auctions.schemas.public import PublicAuction, PublicLotAsset
from auctions.services import case_file
from auctions.tables import AuctionRound, CaseAsset
from registry import clock
from registry.money import format_amount

# Rounds that finished more than this long ago drop off the public list.
RECENT_DAYS = 30


async def public_auctions(include_closed: bool = False) -> list[PublicAuction]:
    where: Any = AuctionRound.status == "scheduled"
    if include_closed:
        where = where | (AuctionRound.ends_at >= clock.now() - timedelta(days=RECENT_DAYS))
    rows = (
        await AuctionRound.select(
            *AuctionRound.all_columns(),
            AuctionRound.case.ref.as_alias("case_ref"),
            AuctionRound.case.profile.as_alias("profile"),
            AuctionRound.case.currency.as_alias("currency"),
            AuctionRound.case.appraisal.as_alias("appraisal"),
        )
        .where(where)
        .order_by(AuctionRound.ends_at)
    )
    case_ids = list({r["case"] for r in rows})
    lots: dict[int, list[PublicLotAsset]] = defaultdict(list)
    if case_ids:
        for a in (
            await CaseAsset.select(
                CaseAsset.case,
                CaseAsset.asset.kind.as_alias("kind"),
                CaseAsset.asset.description.as_alias("description"),
                CaseAsset.asset.address.as_alias("address"),
            )
            .where(CaseAsset.case.is_in(case_ids))
            .order_by(CaseAsset.asset.ref)
        ):
            lots[a["case"]].append(PublicLotAsset(a["kind"], a["description"], a["address"]))
    out = []
    for r in rows:
        currency = r["currency"]
        price = r["hammer_price"] if r["hammer_price"] is not None else r["current_price"]
        out.append(
            PublicAuction(
                round_id=r["id"],
                case_ref=r["case_ref"],
                number=r["number"],
                status=case_file.round_status(r),
                profile=r["profile"],
                currency=r["currency"],
                appraisal=format_amount(r["appraisal"], currency),
                starting_price=format_amount(r["starting_price"], currency),
                increment=format_amount(r["increment"], currency),
                deposit=format_amount(r["deposit"], currency),
                current_price=None if price is None else format_amount(price, currency),
                bid_count=r["bid_count"],
                notice_published_on=r["notice_published_on"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                lot=lots[r["case"]],
            )
        )
    return out
