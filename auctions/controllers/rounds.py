"""Auction rounds over HTTP: the round, its bidders and bids, the live feed, and the single-asset waterfall
preview. Thin: the services hold the rules and the transactions."""

from __future__ import annotations

import functools
import json
import os
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter
from litestar.types import Send

from auctions import feed, live
from auctions.access import CASE_READERS, DISPOSAL_WRITERS, ROUND_READERS
from auctions.event_stream import EventStream
from auctions.schemas.bids import BidAnswer, BidderRead, BidderRegister, BidPlace, BidRead
from auctions.schemas.cases import RoundRead
from auctions.schemas.public import PublicAuction
from auctions.schemas.settlement import WaterfallRead, WaterfallRequest
from auctions.services import bid_history, bidders, bids, case_file, public, rounds, waterfall
from registry.auth import PUBLIC, roles
from registry.observability import QUIET_REQUEST_LINE
from registry.roles import Role
from registry.schemas.misc import UserRead

RoundId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


def keepalive_seconds() -> float:
    """A comment line this often keeps proxies from closing an idle stream and shows a dead client quickly."""
    return float(os.environ.get("COLLATERAL_SSE_KEEPALIVE_SECONDS", "15"))


class RoundController(Controller):
    path = "/api/rounds"
    tags = ["auctions"]

    @get("/{round_id:int}", operation_id="GetRound", name="rounds:get", opt=roles(ROUND_READERS))
    async def get_round(self, round_id: RoundId) -> RoundRead:
        """A read after the round's end closes it first (once, whoever reads)."""
        return await rounds.get_round(round_id)

    @post("/{round_id:int}/bidders", operation_id="RegisterBidder", name="rounds:bidders", opt=roles(DISPOSAL_WRITERS))
    async def register_bidder(
        self, request: Request[UserRead, Any, Any], round_id: RoundId, data: JSONBody[BidderRegister]
    ) -> BidderRead:
        """Admits a bidder whose deposit was received; a pre-emption right holder has a rank (1 highest)."""
        return await bidders.register_bidder(round_id, data, request.user.username)

    @get("/{round_id:int}/bidders", operation_id="ListBidders", name="rounds:list-bidders", opt=roles(CASE_READERS))
    async def list_bidders(self, round_id: RoundId) -> list[BidderRead]:
        return await bidders.list_bidders(round_id)

    @post(
        "/{round_id:int}/bids",
        operation_id="PlaceBid",
        name="rounds:bid",
        # Every bid is kept in the bids table with its answer: no request line for it (registry.observability).
        opt={**roles(Role.BIDDER), **QUIET_REQUEST_LINE},
        responses={201: ResponseSpec(data_container=BidAnswer, description="The bid was accepted and leads")},
    )
    async def place_bid(
        self, request: Request[UserRead, Any, Any], round_id: RoundId, data: JSONBody[BidPlace]
    ) -> Response[Any]:
        """201 `{bid_id, accepted, current_price, leader, ends_at}`; a refused bid is 409 or 422 with the reason, the
        current price and the least bid that would lead now (`minimum_bid`), and is kept in the history; a retry with
        the same `Idempotency-Key` header gets the first answer."""
        key = request.headers.get("idempotency-key")
        status, body = await bids.place_bid(round_id, data.amount, request.user.username, key)
        media = "application/json" if status < 400 else "application/problem+json"
        return Response(content=body, status_code=status, media_type=media)

    @get("/{round_id:int}/bids", operation_id="ListBids", name="rounds:bids", opt=roles(ROUND_READERS))
    async def list_bids(self, request: Request[UserRead, Any, Any], round_id: RoundId) -> list[BidRead]:
        """Staff see every bid of the round, refused ones with their reason; a bidder sees only their own."""
        rnd = await rounds.get_round(round_id)
        case = await case_file.case_row(rnd.case_ref)
        own = request.user.username if request.user.role == Role.BIDDER.value else None
        return await bid_history.bids_of(round_id, own, case["currency"])

    @post(
        "/{round_id:int}/default",
        operation_id="WinnerDefaulted",
        name="rounds:default",
        opt=roles(DISPOSAL_WRITERS),
        status_code=200,
    )
    async def winner_defaulted(self, request: Request[UserRead, Any, Any], round_id: RoundId) -> RoundRead:
        """The winner did not pay: deposit forfeited into the case's proceeds, winner barred from later rounds."""
        await bidders.winner_defaulted(round_id, request.user.username)
        return await rounds.get_round(round_id)

    @get("/{round_id:int}/events", operation_id="RoundEvents", name="rounds:events", opt=roles(ROUND_READERS))
    async def events(
        self, request: Request[UserRead, Any, Any], round_id: RoundId, channels: NamedDependency[ChannelsPlugin]
    ) -> EventStream:
        """Server-sent events: a snapshot, then every accepted bid (`id` = the bid's id) and every change of
        `ends_at` or `status`, after commit. With `Last-Event-ID` the bids missed are replayed from the bids table."""
        snapshot = await rounds.get_round(round_id)
        case = await case_file.case_row(snapshot.case_ref)
        try:
            last_id = int(request.headers.get("last-event-id", "0") or 0)
        except ValueError:
            last_id = 0
        # Frames encoded once by auctions.live and written by the round's feed: Litestar's ServerSentEvent would
        # encode every event again for every subscriber, and pull each chunk in a task per subscriber.
        return EventStream(
            functools.partial(_write_events, channels, round_id, snapshot, case["currency"], last_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "Connection": "keep-alive", "X-Accel-Buffering": "no"},
        )


async def _write_events(
    channels: ChannelsPlugin, round_id: int, snapshot: RoundRead, currency: str, last_id: int, send: Send
) -> None:
    # Join the round's feed before replaying, so a bid committed in between is in one or the other (and left
    # out of the feed's frames if in both).
    async def position() -> tuple[int, int]:
        return await bid_history.feed_position(round_id)

    async def replay(after_id: int) -> list[dict[str, Any]]:
        return await bid_history.accepted_after(round_id, after_id, currency)

    async def write(body: bytes) -> None:
        await send({"type": "http.response.body", "body": body, "more_body": True})

    async with feed.reading(channels, round_id, position, replay) as (round_feed, cursor):
        await write(live.sse_frame("snapshot", _json(snapshot)))
        sent = last_id
        missed = await bid_history.accepted_after(round_id, last_id, currency)
        if missed:
            sent = missed[-1]["id"]
            await write(b"".join(live.sse_frame("bid", json.dumps(event), event["id"]) for event in missed))
        await round_feed.serve(send, cursor, sent, keepalive_seconds())


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


class PublicAuctionController(Controller):
    path = "/api/public/auctions"
    tags = ["public"]

    @get(operation_id="ListPublicAuctions", name="public:auctions", opt=PUBLIC, security=[])
    async def list_auctions(self, recent: FromQuery[bool] = False) -> list[PublicAuction]:
        """Auctions open for bidding (with `recent=true`, also those that ended in the last 30 days): the lot and
        the round only, never the owner, the borrower or a bidder."""
        return await public.public_auctions(include_closed=recent)


class AssetWaterfallController(Controller):
    path = "/api/assets"
    tags = ["disposal"]

    @post(
        "/{ref:str}/waterfall",
        operation_id="PreviewAssetWaterfall",
        name="assets:waterfall",
        opt=roles(CASE_READERS),
        status_code=200,
    )
    async def preview(self, ref: FromPath[str], data: JSONBody[WaterfallRequest]) -> WaterfallRead:
        """DESIGN 8's single-asset preview: who would be paid what from these proceeds; writes nothing."""
        return await waterfall.preview_for_asset(ref, data.gross_proceeds, data.expenses, data.profile)
