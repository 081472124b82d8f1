"""The auctions package's routes, all behind the role guard (the public listing declares itself public)."""

from __future__ import annotations

from litestar import Router

from auctions.controllers.disposals import DisposalController
from auctions.controllers.rounds import AssetWaterfallController, PublicAuctionController, RoundController
from registry.auth import role_guard


def auctions_router() -> Router:
    return Router(
        path="/",
        guards=[role_guard],
        route_handlers=[DisposalController, RoundController, AssetWaterfallController, PublicAuctionController],
    )
