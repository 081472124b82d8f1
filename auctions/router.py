"""The auctions package's routes, all behind the role guard (the public listing declares itself public)."""

from __future__ import annotations

from litestar import Router

from auctions.controllers.disposals import DisposalController
from auctions.controllers.rounds import AssetWaterfallController, PublicAuctionController, RoundController
from registry.auth import role_guard
from registry.openapi_docs import document_problems


def auctions_router() -> Router:
    router = Router(
        path="/",
        guards=[role_guard],
        route_handlers=[DisposalController, RoundController, AssetWaterfallController, PublicAuctionController],
    )
    return document_problems(router)
