"""Coverage over HTTP (DESIGN 5 and 8): the per-loan export (a JSON page, or the whole export as a CSV or
Parquet download), one loan with the rows that explain it, and the portfolio summary.

Every request reads the committed book from the database (valuation.coverage_sources, a blocking Arrow
read) and runs the engine in a worker thread, so the event loop never waits on either."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
import polars as pl
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.plugins.problem_details import ProblemDetailsException

from registry import clock
from registry.auth import roles
from registry.controllers.params import provide_paging
from registry.errors import NotFoundError
from registry.roles import REGISTRY_READERS
from registry.schemas.common import Page, Paging
from valuation.coverage import CoverageInputError, CoverageParams, CoverageResult, MissingFxRates, compute_coverage
from valuation.coverage_sources import (
    book_from_database,
    coverage_export_frame,
    exact_ratio_text,
    money_text,
)

AsOf = Annotated[date | None, QueryParameter(description="the coverage date (YYYY-MM-DD); default today")]
IncludeUnperfected = Annotated[
    bool, QueryParameter(description="also count liens submitted but not yet registered (ranked last)")
]
Format = Annotated[
    Literal["json", "csv", "parquet"],
    QueryParameter(name="format", description="json is paginated; csv and parquet download the whole export"),
]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


class CoverageLoan(msgspec.Struct):
    """One row of the DESIGN 8 coverage export: amounts in the loan's currency, ratios with six places."""

    loan_id: str
    borrower_id: str
    currency: str
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    ltv: str | None
    max_ltv: str | None
    breach: bool
    stale_valuation: bool
    no_valuation: bool
    unperfected: bool


class CoverageContribution(msgspec.Struct):
    """One counted own lien's part in a loan's collateral value. The asset-side amounts
    (asset_value_after_haircut, prior_ranks_took, lien_claim, lien_share) are in value_currency (the
    asset's valuation currency; the loan's when the asset has none); loan_share is in the loan's."""

    asset_id: str
    kind: str
    lien_id: str
    holder: str
    rank: int
    value_currency: str | None
    asset_value_after_haircut: str
    prior_ranks_took: str
    lien_claim: str
    lien_share: str
    loan_share: str
    stale_valuation: bool
    no_valuation: bool
    asset_seized: bool
    possible_double_pledge: bool
    registration_expiring: bool


class CoverageLoanDetail(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    loan: CoverageLoan
    ltv_bucket: str
    registration_expiring: bool
    asset_seized: bool
    possible_double_pledge: bool
    contributions: list[CoverageContribution]


class CurrencyTotals(msgspec.Struct):
    currency: str
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    coverage_ratio: str | None
    breaches: int
    loans_stale_valuation: int
    loans_no_valuation: int
    loans_unperfected: int
    loans_registration_expiring: int
    loans_asset_seized: int
    loans_possible_double_pledge: int


class BucketTotals(msgspec.Struct):
    currency: str
    ltv_bucket: str
    loans: int
    exposure: str
    collateral_value: str
    covered: str
    uncovered: str
    breaches: int


class CoverageSummary(msgspec.Struct):
    as_of: date
    include_unperfected: bool
    portfolio: list[CurrencyTotals]
    ltv_buckets: list[BucketTotals]


async def _coverage(as_of: date, include_unperfected: bool) -> CoverageResult:
    params = CoverageParams(as_of=as_of, include_unperfected=include_unperfected)

    def run() -> CoverageResult:
        return compute_coverage(book_from_database(), params)

    try:
        return await anyio.to_thread.run_sync(run)
    except MissingFxRates as exc:
        raise ProblemDetailsException(
            status_code=422, title="Missing fx rates", detail=str(exc),
            extra={"missing_pairs": [{"from": a, "to": b} for a, b in exc.pairs]},
        ) from None
    except CoverageInputError as exc:
        raise ProblemDetailsException(status_code=422, title="Coverage refused", detail=str(exc)) from None


def _download(frame: pl.DataFrame, fmt: str, as_of: date) -> Response[bytes]:
    if fmt == "csv":
        content = frame.write_csv().encode()
    else:
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        content = buffer.getvalue()
    return Response(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="coverage-{as_of.isoformat()}.{fmt}"'},
    )


def _money(columns: tuple[str, ...], currency: pl.Expr) -> list[pl.Expr]:
    return [money_text(name, currency) for name in columns]


class CoverageController(Controller):
    path = "/api/coverage"
    tags = ["coverage"]
    dependencies = {"paging": Provide(provide_paging, sync_to_thread=False)}

    @get("/loans", operation_id="ListLoanCoverage", name="coverage:loans", opt=roles(REGISTRY_READERS))
    async def loans(
        self, paging: NamedDependency[Paging], as_of: AsOf = None, include_unperfected: IncludeUnperfected = False,
        fmt: Format = "json",
    ) -> Response[Any]:
        """Every live loan's coverage as of the date, by loan_id. `format=json` answers a page
        (page, page_size, items, total); `csv` and `parquet` download the whole export with the DESIGN 8
        columns."""
        day = as_of or clock.today()
        frame = coverage_export_frame((await _coverage(day, include_unperfected)).per_loan)
        if fmt != "json":
            return _download(frame, fmt, day)
        rows = frame.slice(paging.offset, paging.page_size).to_dicts()
        items = msgspec.convert(rows, list[CoverageLoan])
        return Response(Page(items=items, total=frame.height, page=paging.page, page_size=paging.page_size))

    @get("/loans/{ref:str}", operation_id="GetLoanCoverage", name="coverage:loan", opt=roles(REGISTRY_READERS))
    async def loan(
        self, ref: FromPath[str], as_of: AsOf = None, include_unperfected: IncludeUnperfected = False
    ) -> CoverageLoanDetail:
        """One loan's coverage row and the counted own liens that make it up (zero shares included: they
        explain a gap). A settled, written-off or unknown loan has no coverage: 404."""
        day = as_of or clock.today()
        result = await _coverage(day, include_unperfected)
        mine = result.per_loan.filter(pl.col("loan_id") == ref)
        row = coverage_export_frame(mine)
        if row.is_empty():
            raise NotFoundError("loan", ref)
        extra = mine.select("ltv_bucket", "registration_expiring", "asset_seized", "possible_double_pledge").collect()
        amount_currency = pl.coalesce(pl.col("value_currency"), pl.col("currency"))
        contributions = (
            result.contributions.filter(pl.col("loan_id") == ref)
            .sort("rank", "asset_id", "lien_id")
            .select(
                "asset_id", "kind", "lien_id", "holder", pl.col("rank").cast(pl.Int64), "value_currency",
                *_money(("asset_value_after_haircut", "prior_ranks_took", "lien_claim", "lien_share"),
                        amount_currency),
                money_text("loan_share", pl.col("currency")),
                "stale_valuation", "no_valuation", "asset_seized", "possible_double_pledge", "registration_expiring",
            )
            .collect()
        )
        return CoverageLoanDetail(
            as_of=day,
            include_unperfected=include_unperfected,
            loan=msgspec.convert(row.to_dicts()[0], CoverageLoan),
            **extra.to_dicts()[0],
            contributions=msgspec.convert(contributions.to_dicts(), list[CoverageContribution]),
        )

    @get("/summary", operation_id="GetCoverageSummary", name="coverage:summary", opt=roles(REGISTRY_READERS))
    async def summary(self, as_of: AsOf = None, include_unperfected: IncludeUnperfected = False) -> CoverageSummary:
        """Portfolio totals per currency, and loans and amounts per LTV bucket (every bucket, empty ones as
        zeros) per currency. No total adds one currency to another."""
        day = as_of or clock.today()
        result = await _coverage(day, include_unperfected)
        amounts = ("exposure", "collateral_value", "covered", "uncovered")
        portfolio = result.portfolio.select(
            "currency", pl.col("loans").cast(pl.Int64), *_money(amounts, pl.col("currency")),
            exact_ratio_text("collateral_value", "exposure").alias("coverage_ratio"),
            pl.col("breaches").cast(pl.Int64),
            *(pl.col(f"loans_{f}").cast(pl.Int64) for f in ("stale_valuation", "no_valuation", "unperfected",
                                                             "registration_expiring", "asset_seized",
                                                             "possible_double_pledge")),
        ).collect()
        buckets = result.per_ltv_bucket.select(
            "currency", "ltv_bucket", pl.col("loans").cast(pl.Int64), *_money(amounts, pl.col("currency")),
            pl.col("breaches").cast(pl.Int64),
        ).collect()
        return CoverageSummary(
            as_of=day,
            include_unperfected=include_unperfected,
            portfolio=msgspec.convert(portfolio.to_dicts(), list[CurrencyTotals]),
            ltv_buckets=msgspec.convert(buckets.to_dicts(), list[BucketTotals]),
        )
