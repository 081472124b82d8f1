"""Coverage of the committed book, for the API and the pages: per loan, per borrower, the summary, and
the formatting the scenario services share. Running the engine (and its caches) is coverage_runs."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import msgspec
import polars as pl

from registry.errors import NotFoundError
from registry.schemas.common import Page, Paging
from valuation.coverage import CoverageResult, rollups
from valuation.coverage_schemas import (
    BorrowerCoverage,
    BorrowerCoverageDetail,
    BucketTotals,
    CoverageContribution,
    CoverageLoan,
    CoverageLoanDetail,
    CoverageSummary,
    CurrencyTotals,
    KindTotals,
)
from valuation.coverage_sources import (
    DIGITS,
    coverage_export_frame,
    exact_ratio_text,
    money_in_digits,
    money_text,
    with_digits,
)
from valuation.services.coverage_runs import FxRates, compute, in_thread

AMOUNTS = ("exposure", "collateral_value", "covered", "uncovered")
PORTFOLIO_FLAGS = rollups.LOAN_FLAGS
T = TypeVar("T")


def money_of(columns: tuple[str, ...], digits: str = DIGITS) -> list[pl.Expr]:
    """Amounts as text over a frame given its digits column by with_digits (one currency lookup, not one per
    amount)."""
    return [money_in_digits(name, digits) for name in columns]


async def loans_export(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> pl.DataFrame:
    """The DESIGN 8 export of every live loan, by loan_id."""
    result = await compute(as_of, include_unperfected, fx_rates)
    return await in_thread(lambda: coverage_export_frame(result.per_loan))


def _page(rows: pl.DataFrame, total: int, paging: Paging, row_type: type[T]) -> Page[T]:
    items = msgspec.convert(rows.to_dicts(), list[row_type])  # type: ignore[valid-type]
    return Page(items=items, total=total, page=paging.page, page_size=paging.page_size)


LOAN_FLAGS = ("breach", *rollups.LOAN_FLAGS)
# What the loans list sorts by: the engine's columns (amounts in minor units of each loan's own currency, so an
# amount sort is meant within one currency; the list says so), loan_id breaking ties.
LOAN_SORTS = ("loan_id", "ltv", "exposure", "uncovered")


class LoanFilters(msgspec.Struct, frozen=True):
    """Which loans a list of loans keeps, and in what order; `descending` applies to `sort`."""

    flag: str | None = None
    ltv_bucket: str | None = None
    borrower_id: str | None = None
    currency: str | None = None
    sort: str = "loan_id"
    descending: bool = False


def filtered_loans(per_loan: pl.LazyFrame, filters: LoanFilters) -> pl.LazyFrame:
    if filters.flag is not None:
        per_loan = per_loan.filter(pl.col(filters.flag).cast(pl.Boolean))
    for column in ("ltv_bucket", "borrower_id", "currency"):
        if (value := getattr(filters, column)) is not None:
            per_loan = per_loan.filter(pl.col(column) == value)
    if filters.sort != "loan_id":
        # A loan without collateral has no LTV: it sorts last either way.
        per_loan = per_loan.sort([filters.sort, "loan_id"], descending=[filters.descending, False], nulls_last=True)
    elif filters.descending:
        per_loan = per_loan.sort("loan_id", descending=True)
    return per_loan


def _in_order(per_loan: pl.LazyFrame) -> pl.DataFrame:
    """The export rows of these loans, in the order the frame has them (the export itself sorts by loan_id)."""
    ordered = per_loan.select("loan_id").collect().with_row_index("_order")
    return coverage_export_frame(per_loan).join(ordered, on="loan_id").sort("_order").drop("_order")


async def loans_page(
    as_of: date,
    include_unperfected: bool,
    paging: Paging,
    fx_rates: FxRates | None = None,
    filters: LoanFilters | None = None,
) -> Page[CoverageLoan]:
    """One page of the export, by loan_id or as `filters` sorts it, only the loans `filters` keeps: only that
    page's rows are formatted."""
    per_loan = filtered_loans((await compute(as_of, include_unperfected, fx_rates)).per_loan, filters or LoanFilters())

    def page() -> Page[CoverageLoan]:
        rows = _in_order(per_loan.slice(paging.offset, paging.page_size))
        return _page(rows, per_loan.select(pl.len()).collect().item(), paging, CoverageLoan)

    return await in_thread(page)


async def loans_filtered_export(
    as_of: date, include_unperfected: bool, filters: LoanFilters, fx_rates: FxRates | None = None
) -> pl.DataFrame:
    """The DESIGN 8 export of the loans `filters` keeps, in its order (a page's "Download CSV")."""
    per_loan = filtered_loans((await compute(as_of, include_unperfected, fx_rates)).per_loan, filters)
    return await in_thread(lambda: _in_order(per_loan))


def _contributions(result: CoverageResult, loan_ref: str) -> list[CoverageContribution]:
    amount_currency = pl.coalesce(pl.col("value_currency"), pl.col("currency"))
    rows = (
        with_digits(result.contributions.filter(pl.col("loan_id") == loan_ref), amount_currency, "_value_digits")
        .pipe(with_digits, pl.col("currency"))
        .sort("rank", "asset_id", "lien_id")
        .select(
            "asset_id",
            "kind",
            "lien_id",
            "holder",
            pl.col("rank").cast(pl.Int64),
            "value_currency",
            *money_of(
                ("asset_value_after_haircut", "prior_ranks_took", "lien_claim", "lien_share", "lien_surplus"),
                "_value_digits",
            ),
            money_in_digits("loan_share"),
            money_in_digits("loan_reach"),
            "stale_valuation",
            "no_valuation",
            "asset_seized",
            "possible_double_pledge",
            "registration_expiring",
        )
        .collect()
    )
    return msgspec.convert(rows.to_dicts(), list[CoverageContribution])


async def loan_detail(
    ref: str, as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None
) -> CoverageLoanDetail:
    """One loan's coverage row and the counted own liens that make it up (zero shares included: they
    explain a gap). A settled, written-off or unknown loan has no coverage: NotFoundError."""
    result = await compute(as_of, include_unperfected, fx_rates)

    def detail() -> CoverageLoanDetail:
        mine = result.per_loan.filter(pl.col("loan_id") == ref)
        row = coverage_export_frame(mine)
        if row.is_empty():
            raise NotFoundError("loan", ref)
        extra = mine.select("ltv_bucket", "registration_expiring", "asset_seized", "possible_double_pledge").collect()
        return CoverageLoanDetail(
            as_of=as_of,
            include_unperfected=include_unperfected,
            loan=msgspec.convert(row.to_dicts()[0], CoverageLoan),
            **extra.to_dicts()[0],
            contributions=_contributions(result, ref),
        )

    return await in_thread(detail)


def borrowers_frame(per_borrower: pl.LazyFrame) -> pl.DataFrame:
    """Per borrower and currency, by borrower_id: the BorrowerCoverage columns, amounts as text."""
    return (
        with_digits(per_borrower, pl.col("currency"))
        .select(
            "borrower_id",
            "currency",
            pl.col("loans").cast(pl.Int64),
            *money_of(AMOUNTS),
            exact_ratio_text("collateral_value", "exposure").alias("coverage_ratio"),
            pl.col("breaches").cast(pl.Int64),
        )
        .collect()
    )


async def borrowers_export(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> pl.DataFrame:
    per_borrower = (await compute(as_of, include_unperfected, fx_rates)).per_borrower
    return await in_thread(lambda: borrowers_frame(per_borrower))


async def borrowers_page(
    as_of: date, include_unperfected: bool, paging: Paging, fx_rates: FxRates | None = None
) -> Page[BorrowerCoverage]:
    per_borrower = (await compute(as_of, include_unperfected, fx_rates)).per_borrower  # by borrower, currency

    def page() -> Page[BorrowerCoverage]:
        rows = borrowers_frame(per_borrower.slice(paging.offset, paging.page_size))
        return _page(rows, per_borrower.select(pl.len()).collect().item(), paging, BorrowerCoverage)

    return await in_thread(page)


async def borrower_detail(
    ref: str, as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None
) -> BorrowerCoverageDetail:
    """A borrower's totals per currency and each of their live loans. No live loan: NotFoundError."""
    result = await compute(as_of, include_unperfected, fx_rates)

    def detail() -> BorrowerCoverageDetail:
        loans = coverage_export_frame(result.per_loan.filter(pl.col("borrower_id") == ref))
        if loans.is_empty():
            raise NotFoundError("borrower with live loans", ref)
        totals = borrowers_frame(result.per_borrower.filter(pl.col("borrower_id") == ref))
        return BorrowerCoverageDetail(
            as_of=as_of,
            include_unperfected=include_unperfected,
            borrower_id=ref,
            totals=msgspec.convert(totals.to_dicts(), list[BorrowerCoverage]),
            loans=msgspec.convert(loans.to_dicts(), list[CoverageLoan]),
        )

    return await in_thread(detail)


def portfolio_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return (
        with_digits(result.portfolio, pl.col("currency"))
        .select(
            "currency",
            pl.col("loans").cast(pl.Int64),
            *money_of(AMOUNTS),
            exact_ratio_text("collateral_value", "exposure").alias("coverage_ratio"),
            pl.col("breaches").cast(pl.Int64),
            *(pl.col(f"loans_{f}").cast(pl.Int64) for f in PORTFOLIO_FLAGS),
        )
        .collect()
        .to_dicts()
    )


def bucket_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return (
        with_digits(result.per_ltv_bucket, pl.col("currency"))
        .select(
            "currency",
            "ltv_bucket",
            pl.col("loans").cast(pl.Int64),
            *money_of(AMOUNTS),
            pl.col("breaches").cast(pl.Int64),
        )
        .collect()
        .to_dicts()
    )


def kind_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return (
        result.per_asset_kind.select(
            "kind",
            "currency",
            pl.col("assets").cast(pl.Int64),
            pl.col("loans").cast(pl.Int64),
            money_text("collateral_value", pl.col("currency")),
        )
        .collect()
        .to_dicts()
    )


async def summary(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageSummary:
    """Portfolio totals per currency, loans and amounts per LTV bucket (every bucket, empty ones as zeros)
    per currency, and what each asset kind contributes per currency. No total adds one currency to another."""
    result = await compute(as_of, include_unperfected, fx_rates)
    return await in_thread(
        lambda: CoverageSummary(
            as_of=as_of,
            include_unperfected=include_unperfected,
            portfolio=msgspec.convert(portfolio_rows(result), list[CurrencyTotals]),
            ltv_buckets=msgspec.convert(bucket_rows(result), list[BucketTotals]),
            asset_kinds=msgspec.convert(kind_rows(result), list[KindTotals]),
        )
    )


def figures(suffix: str) -> pl.Expr:
    """A side of a loans_side_by_side frame as a Figures struct (null when the loan is not on that side)."""

    def col(name: str) -> str:
        return name + suffix

    currency = pl.col("currency")
    return pl.when(pl.col(col("exposure")).is_not_null()).then(
        pl.struct(
            *(money_text(col(a), currency).alias(a) for a in (*AMOUNTS, "reachable_value")),
            exact_ratio_text(col("collateral_value"), col("exposure")).alias("coverage_ratio"),
            exact_ratio_text(col("exposure"), col("reachable_value")).alias("ltv"),
            pl.col(col("ltv_bucket")).alias("ltv_bucket"),
            pl.col(col("breach")).alias("breach"),
        )
    )


def totals(suffix: str) -> pl.Expr:
    """A side of a totals_side_by_side frame as a TotalsSide struct."""

    def col(name: str) -> str:
        return name + suffix

    return pl.struct(
        pl.col(col("loans")).cast(pl.Int64).alias("loans"),
        *(money_text(col(a), pl.col("currency")).alias(a) for a in AMOUNTS),
        exact_ratio_text(col("collateral_value"), col("exposure")).alias("coverage_ratio"),
        pl.col(col("breaches")).cast(pl.Int64).alias("breaches"),
    )
