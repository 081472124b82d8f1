"""Auction rounds and the single-asset waterfall preview over HTTP."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, PathParameter

from auctions.access import CASE_READERS, ROUND_READERS
from auctions.schemas.cases import RoundRead
from auctions.schemas.settlement import WaterfallRead, WaterfallRequest
from auctions.services import rounds, waterfall
from registry.auth import roles

RoundId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


class RoundController(Controller):
    path = "/api/rounds"
    tags = ["auctions"]

    @get("/{round_id:int}", operation_id="GetRound", name="rounds:get", opt=roles(ROUND_READERS))
    async def get_round(self, round_id: RoundId) -> RoundRead:
        """A read after the round's end closes it first (once, whoever reads)."""
        return await rounds.get_round(round_id)


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
