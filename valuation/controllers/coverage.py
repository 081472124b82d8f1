"""Coverage over HTTP (DESIGN 5 and 8): loans (a JSON page, or the whole export as CSV or Parquet), one
loan with the rows that explain it, borrowers, the portfolio summary, stress scenarios and restructuring
what-ifs. The logic is in valuation.services; these handlers parse, guard and shape the response."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any, Literal

import polars as pl
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from registry import clock
from registry.auth import roles
from registry.downloads import content_disposition, write_csv_text
from registry.roles import REGISTRY_READERS, SCENARIO_RUNNERS
from registry.schemas.common import Paging
from registry.schemas.fields import DATE_RANGE, YEARS_PATTERN
from valuation.coverage_schemas import (
    FX_RATE_PATTERN,
    BorrowerCoverageDetail,
    CoverageLoanDetail,
    CoverageSummary,
    StressReport,
    StressScenario,
    WhatIfProposal,
    WhatIfReport,
)
from valuation.services import coverage, stress, whatif
from valuation.services.coverage_runs import in_thread, parse_fx

AsOf = Annotated[
    date | None,
    QueryParameter(
        description=f"the coverage date (YYYY-MM-DD, {DATE_RANGE}); default today",
        schema_extra={"pattern": YEARS_PATTERN},
    ),
]
IncludeUnperfected = Annotated[
    bool, QueryParameter(description="also count liens submitted but not yet registered (ranked last)")
]
Format = Annotated[
    Literal["json", "csv", "parquet"],
    QueryParameter(name="format", description="json is paginated; csv and parquet download the whole table"),
]
Fx = Annotated[
    list[str] | None,
    QueryParameter(
        description='fx rates, repeated: "CNY/USD=0.1405" is 0.1405 USD per CNY (valuation currency '
        "first, loan currency second, as a 422's missing_pairs lists them)",
        schema_extra={"items": Schema(type=OpenAPIType.STRING, pattern=FX_RATE_PATTERN)},
    ),
]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _download(frame: pl.DataFrame, fmt: str, name: str) -> Response[bytes]:
    if fmt == "csv":
        content = write_csv_text(frame).encode()
    else:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        content = buffer.getvalue()
    return Response(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": content_disposition(f"{name}.{fmt}")},
    )


class CoverageController(Controller):
    path = "/api/coverage"
    tags = ["coverage"]

    @get("/loans", operation_id="ListLoanCoverage", name="coverage:loans", opt=roles(REGISTRY_READERS))
    async def loans(
        self,
        paging: NamedDependency[Paging],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fmt: Format = "json",
        fx: Fx = None,
    ) -> Response[Any]:
        """Every live loan's coverage as of the date, by loan_id. `format=json` answers a page
        (page, page_size, items, total); `csv` and `parquet` download the whole export with the DESIGN 8
        columns."""
        day, rates = as_of or clock.today(), parse_fx(fx or [])
        if fmt == "json":
            return Response(await coverage.loans_page(day, include_unperfected, paging, rates))
        frame = await coverage.loans_export(day, include_unperfected, rates)
        return await in_thread(lambda: _download(frame, fmt, f"coverage-{day.isoformat()}"))

    @get("/loans/{ref:str}", operation_id="GetLoanCoverage", name="coverage:loan", opt=roles(REGISTRY_READERS))
    async def loan(
        self,
        ref: FromPath[str],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fx: Fx = None,
    ) -> CoverageLoanDetail:
        """One loan's coverage row and the counted own liens that make it up (zero shares included: they
        explain a gap). A settled, written-off or unknown loan has no coverage: 404."""
        return await coverage.loan_detail(ref, as_of or clock.today(), include_unperfected, parse_fx(fx or []))

    @get("/borrowers", operation_id="ListBorrowerCoverage", name="coverage:borrowers", opt=roles(REGISTRY_READERS))
    async def borrowers(
        self,
        paging: NamedDependency[Paging],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fmt: Format = "json",
        fx: Fx = None,
    ) -> Response[Any]:
        """Each borrower's live loans added up per currency, by borrower_id: loans, exposure, collateral
        value, covered, uncovered, coverage ratio and breaches. `csv` and `parquet` download them all."""
        day, rates = as_of or clock.today(), parse_fx(fx or [])
        if fmt == "json":
            return Response(await coverage.borrowers_page(day, include_unperfected, paging, rates))
        frame = await coverage.borrowers_export(day, include_unperfected, rates)
        return await in_thread(lambda: _download(frame, fmt, f"borrower-coverage-{day.isoformat()}"))

    @get(
        "/borrowers/{ref:str}",
        operation_id="GetBorrowerCoverage",
        name="coverage:borrower",
        opt=roles(REGISTRY_READERS),
    )
    async def borrower(
        self,
        ref: FromPath[str],
        as_of: AsOf = None,
        include_unperfected: IncludeUnperfected = False,
        fx: Fx = None,
    ) -> BorrowerCoverageDetail:
        """A borrower's totals per currency and each of their live loans' coverage. No live loan: 404."""
        return await coverage.borrower_detail(ref, as_of or clock.today(), include_unperfected, parse_fx(fx or []))

    @get("/summary", operation_id="GetCoverageSummary", name="coverage:summary", opt=roles(REGISTRY_READERS))
    async def summary(
        self, as_of: AsOf = None, include_unperfected: IncludeUnperfected = False, fx: Fx = None
    ) -> CoverageSummary:
        """Portfolio totals per currency, and loans and amounts per LTV bucket (every bucket, empty ones as
        zeros) per currency. No total adds one currency to another."""
        return await coverage.summary(as_of or clock.today(), include_unperfected, parse_fx(fx or []))

    @post(
        "/stress",
        operation_id="RunStressScenario",
        name="coverage:stress",
        status_code=HTTP_200_OK,
        opt=roles(SCENARIO_RUNNERS),
    )
    async def stress(self, data: JSONBody[StressScenario], paging: NamedDependency[Paging]) -> StressReport:
        """Shocks by asset kind and by GeoJSON region (an asset is in a region when its parcel intersects
        it), as percentage changes from -100 to +1000 applied after the haircut; shocks meeting on one
        asset multiply. Answers base and stressed side by side per currency for the portfolio and the LTV
        buckets, and the loans whose coverage changes (new breaches first; `page`, `page_size`). Nothing
        is written."""
        return await stress.run(data, paging)

    @post(
        "/what-if",
        operation_id="RunWhatIf",
        name="coverage:what-if",
        status_code=HTTP_200_OK,
        opt=roles(SCENARIO_RUNNERS),
    )
    async def what_if(self, data: JSONBody[WhatIfProposal]) -> WhatIfReport:
        """Proposed restructuring changes (`type`: capitalise_interest, set_balance, add_lien,
        release_lien, substitute_asset), applied in order to a copy of the book. Answers coverage before
        and after for every loan touched and every loan sharing collateral with one, and which breaches
        appear or clear. A change the book contradicts (a lien released twice, an unknown ref) is a 422
        naming it. Nothing is written."""
        return await whatif.run(data)
