"""Valuations over HTTP: submit, the queue and an asset's history, the four-eyes decision, bulk upload,
and the revaluation worklist. Thin: the services hold the rules and the transactions."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from litestar.plugins.problem_details import ProblemDetailsException

from registry import clock
from registry.auth import roles
from registry.bulk.pipeline import MAX_SHOWN_ERRORS, ImportRefused
from registry.controllers.params import RowId
from registry.errors import InvalidInputError
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.fields import DATE_RANGE, YEARS_PATTERN
from registry.schemas.misc import UserRead
from registry.spool import save_upload
from valuation.schemas import (
    AssetDue,
    LienExpiring,
    UploadResult,
    ValuationRead,
    ValuationReject,
    ValuationStatus,
    WorklistReason,
)
from valuation.schemas import ValuationSubmit as Submit
from valuation.services import uploads, valuations, worklist

MAX_UPLOAD_BYTES = 256 * 1024**2
AsOf = Annotated[
    date | None,
    QueryParameter(
        description=f"the worklist's date ({DATE_RANGE}); default today", schema_extra={"pattern": YEARS_PATTERN}
    ),
]
WithinDays = Annotated[int, QueryParameter(ge=0, le=3650, description="registrations expiring within this many days")]


class ValuationController(Controller):
    path = "/api/valuations"
    tags = ["valuation"]

    @post(operation_id="SubmitValuation", name="valuations:submit", opt=roles(COLLATERAL_WRITERS))
    async def submit(self, request: Request[UserRead, Any, Any], data: JSONBody[Submit]) -> ValuationRead:
        return await valuations.submit(data, request.user.username)

    @get(operation_id="ListValuations", name="valuations:list", opt=roles(REGISTRY_READERS))
    async def list_valuations(
        self,
        paging: NamedDependency[Paging],
        status: FromQuery[ValuationStatus | None] = None,
        asset_ref: FromQuery[str | None] = None,
    ) -> Page[ValuationRead]:
        """Oldest submission first; `status=submitted` is the approval queue."""
        return await valuations.list_valuations(paging, status=status, asset_ref=asset_ref)

    @get("/{valuation_id:int}", operation_id="GetValuation", name="valuations:get", opt=roles(REGISTRY_READERS))
    async def get_valuation(self, valuation_id: RowId) -> ValuationRead:
        return await valuations.get_valuation(valuation_id)

    @post(
        "/{valuation_id:int}/approve",
        operation_id="ApproveValuation",
        name="valuations:approve",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def approve(self, request: Request[UserRead, Any, Any], valuation_id: RowId) -> ValuationRead:
        """Four eyes: the submitter may not approve their own valuation (403)."""
        return await valuations.approve(valuation_id, request.user.username)

    @post(
        "/{valuation_id:int}/reject",
        operation_id="RejectValuation",
        name="valuations:reject",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def reject(
        self, request: Request[UserRead, Any, Any], valuation_id: RowId, data: JSONBody[ValuationReject]
    ) -> ValuationRead:
        return await valuations.reject(valuation_id, data, request.user.username)

    @post(
        "/uploads",
        operation_id="UploadValuations",
        name="valuations:upload",
        opt=roles(COLLATERAL_WRITERS),
        request_max_body_size=MAX_UPLOAD_BYTES,
    )
    async def upload(self, request: Request[UserRead, Any, Any], data: MultipartBody[dict[str, Any]]) -> UploadResult:
        """One .csv or .parquet file with columns asset_id, valued_on, market_value, currency, method,
        appraiser; every row becomes a submitted valuation, or none does (422 lists every bad cell). A file
        over the row or decompressed-size bound (COLLATERAL_UPLOAD_MAX_ROWS, COLLATERAL_UPLOAD_MAX_BYTES) is 413."""
        values = [v for value in (data or {}).values() for v in (value if isinstance(value, list) else [value])]
        files = [v for v in values if isinstance(v, UploadFile)]
        if len(files) != 1:
            raise InvalidInputError.one("file", "attach exactly one .csv or .parquet file of valuations")
        filename = files[0].filename or ""
        suffix = uploads.upload_suffix(filename)
        try:
            with tempfile.TemporaryDirectory(prefix="collateral-valuations-") as tmp:
                path = Path(tmp) / f"upload.{suffix}"
                await save_upload(files[0], path)
                return await uploads.upload_valuations(filename, path, request.user.username)
        except ImportRefused as refused:
            raise ProblemDetailsException(
                status_code=422,
                title="Upload refused",
                detail=f"{refused.errors.height} errors; nothing was written",
                extra={
                    "error_count": refused.errors.height,
                    "errors": refused.errors.head(MAX_SHOWN_ERRORS).to_dicts(),
                },
            ) from None


class AssetValuationController(Controller):
    path = "/api/assets"
    tags = ["valuation"]

    @get(
        "/{ref:str}/valuations",
        operation_id="ListAssetValuations",
        name="valuations:history",
        opt=roles(REGISTRY_READERS),
    )
    async def history(self, ref: FromPath[str], paging: NamedDependency[Paging]) -> Page[ValuationRead]:
        """Every valuation of the asset, newest valuation date first."""
        return await valuations.history(ref, paging)


class WorklistController(Controller):
    path = "/api/worklist"
    tags = ["valuation"]

    @get("/assets", operation_id="ListAssetsDueForValuation", name="worklist:assets", opt=roles(REGISTRY_READERS))
    async def assets_due(
        self, paging: NamedDependency[Paging], as_of: AsOf = None, reason: FromQuery[WorklistReason | None] = None
    ) -> Page[AssetDue]:
        """Assets in the pledge book with no approved valuation, a stale one, or no policy for their kind."""
        return await worklist.assets_due(as_of or clock.today(), paging, reason)

    @get("/liens", operation_id="ListExpiringRegistrations", name="worklist:liens", opt=roles(REGISTRY_READERS))
    async def liens_expiring(
        self, paging: NamedDependency[Paging], as_of: AsOf = None, within_days: WithinDays = 60
    ) -> Page[LienExpiring]:
        """Registered liens expiring within `within_days` of as_of (already past their date included)."""
        return await worklist.liens_expiring(as_of or clock.today(), within_days, paging)
