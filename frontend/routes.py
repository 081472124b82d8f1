"""The browser pages: Jinja templates with htmx, served by the same app.

`frontend_router()` carries the pages and /static; the app must also be given `template_config()`
(Litestar takes the template engine only at the application level).
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.plugins.htmx import HTMXRequest

from frontend.asset_pages import AssetPagesController
from frontend.asset_valuations import AssetValuationPagesController
from frontend.auction_pages import AuctionPagesController
from frontend.audit_pages import AuditPagesController
from frontend.coverage_pages import CoveragePagesController
from frontend.disposal_pages import DisposalPagesController
from frontend.disposal_settlement_pages import DisposalSettlementPagesController
from frontend.errors import page_exception_handlers
from frontend.lien_pages import LienPagesController
from frontend.loan_pages import LoanPagesController
from frontend.map_pages import MapPagesController
from frontend.overlap_pages import OverlapPagesController
from frontend.party_pages import PartyPagesController
from frontend.scenario_pages import ScenarioPagesController
from frontend.search_pages import SearchPagesController
from frontend.session import SessionController
from frontend.templating import static_files_router, template_config
from frontend.valuation_pages import ValuationPagesController
from registry.auth import role_guard

__all__ = ("frontend_router", "pages_router", "static_files_router", "template_config")


def pages_router() -> Router:
    """Every page sits behind the role guard, deny by default, like the API."""
    return Router(
        path="/",
        route_handlers=[
            SessionController,
            AssetPagesController,
            AssetValuationPagesController,
            OverlapPagesController,
            MapPagesController,
            ValuationPagesController,
            CoveragePagesController,
            ScenarioPagesController,
            DisposalPagesController,
            DisposalSettlementPagesController,
            AuctionPagesController,
            LoanPagesController,
            PartyPagesController,
            LienPagesController,
            AuditPagesController,
            SearchPagesController,
        ],
        guards=[role_guard],
        exception_handlers=page_exception_handlers(),
        request_class=HTMXRequest,
        include_in_schema=False,
        # Registry pages hold customer data: keep them out of shared and back-button caches.
        cache_control=CacheControlHeader(no_store=True),
    )


def frontend_router() -> Router:
    return Router(path="/", route_handlers=[pages_router(), static_files_router()], include_in_schema=False)
