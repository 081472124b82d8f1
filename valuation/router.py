"""The valuation package's routes, all behind the role guard."""

from __future__ import annotations

from litestar import Router

from registry.auth import role_guard
from registry.openapi_docs import document_problems
from valuation.controllers.comparables import ComparablesController
from valuation.controllers.coverage import CoverageController
from valuation.controllers.policies import PolicyController
from valuation.controllers.valuations import AssetValuationController, ValuationController, WorklistController


def valuation_router() -> Router:
    router = Router(
        path="/",
        guards=[role_guard],
        route_handlers=[
            ComparablesController,
            ValuationController,
            AssetValuationController,
            WorklistController,
            PolicyController,
            CoverageController,
        ],
    )
    return document_problems(router)
