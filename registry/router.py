"""The registry's routes, all behind the role guard."""

from __future__ import annotations

from litestar import Router

from registry.auth import role_guard
from registry.controllers.assets import AssetController
from registry.controllers.audit import AuditController
from registry.controllers.auth import AuthController, UserController
from registry.controllers.documents import DocumentController
from registry.controllers.imports import ImportController
from registry.controllers.liens import LienController
from registry.controllers.loans import LoanController
from registry.controllers.parcels import ParcelController
from registry.controllers.parties import PartyController
from registry.openapi_docs import document_problems


def registry_router() -> Router:
    router = Router(
        path="/",
        guards=[role_guard],
        route_handlers=[
            AuthController,
            UserController,
            PartyController,
            LoanController,
            AssetController,
            LienController,
            DocumentController,
            AuditController,
            ImportController,
            ParcelController,
        ],
    )
    return document_problems(router)
