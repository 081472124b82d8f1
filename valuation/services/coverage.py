"""Coverage of the committed book, for the API and the pages: per loan, per borrower, the summary.

A computation reads the book from the database (valuation.coverage_sources, a blocking Arrow read) and
runs the engine in a worker thread, so the event loop never waits on either. The engine's refusals become
422 problems: MissingFxRates lists the missing pairs.

Results are kept for the last few (book version, as_of, include_unperfected, fx) keys, so paging through
loans or opening one loan after another does not recompute a million-loan book each time. The book's
version is the head of the audit chain: every write that can move coverage (postings, liens, assets,
parcels, valuations, policies, imports) appends an event in its own transaction. The head is read before
the book, so a cached result is never older than the version it is filed under.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import anyio.to_thread
import msgspec
import polars as pl

from registry.errors import DomainError, InvalidInputError, NotFoundError
from registry.schemas.common import Page, Paging
from registry.tables import AuditEvent
from valuation.coverage import BookFrames, CoverageInputError, CoverageParams, CoverageResult, MissingFxRates, fx
from valuation.coverage import compute_coverage as engine
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
from valuation.coverage_sources import book_from_database, coverage_export_frame, exact_ratio_text, money_text

AMOUNTS = ("exposure", "collateral_value", "covered", "uncovered")
PORTFOLIO_FLAGS = ("stale_valuation", "no_valuation", "unperfected", "registration_expiring", "asset_seized",
                   "possible_double_pledge")
T = TypeVar("T")
FxRates = Mapping[tuple[str, str], Decimal]


class CoverageRefused(DomainError):
    """422: the engine will not give a number for this book (or this scenario) and says why."""

    status_code = 422
    title = "Coverage refused"

    def __init__(self, detail: str, extra: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self._extra = extra or {}

    def extra(self) -> dict[str, object]:
        return self._extra


class MissingFxRatesError(CoverageRefused):
    title = "Missing fx rates"


async def in_worker(work: Callable[[BookFrames], T]) -> T:
    """Read the committed book and run `work` on it in a worker thread; engine refusals become 422."""

    def run() -> T:
        return work(book_from_database())

    try:
        return await anyio.to_thread.run_sync(run)
    except MissingFxRates as exc:
        pairs = [{"from": a, "to": b} for a, b in exc.pairs]
        raise MissingFxRatesError(str(exc), {"missing_pairs": pairs}) from None
    except CoverageInputError as exc:
        raise CoverageRefused(str(exc)) from None


def parse_fx(texts: Sequence[str], field: str = "fx") -> dict[tuple[str, str], Decimal]:
    """Rates written "FROM/TO=RATE" (valuation.coverage.fx); InvalidInputError names each bad one."""
    rates, problems = fx.parse_rates(texts)
    if problems:
        raise InvalidInputError([(f"{field}[{i}]", reason) for i, reason in problems])
    return rates


def params(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageParams:
    return CoverageParams(as_of=as_of, include_unperfected=include_unperfected, fx_rates=fx_rates)


CacheKey = tuple[object, ...]


class ResultCache:
    """The most recent results, least recently used out first (a million-loan result is a few hundred MB)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._results: OrderedDict[CacheKey, CoverageResult] = OrderedDict()

    def get(self, key: CacheKey) -> CoverageResult | None:
        found = self._results.get(key)
        if found is not None:
            self._results.move_to_end(key)
        return found

    def put(self, key: CacheKey, result: CoverageResult) -> None:
        self._results[key] = result
        self._results.move_to_end(key)
        while len(self._results) > self.size:
            self._results.popitem(last=False)

    def clear(self) -> None:
        self._results.clear()


RESULTS = ResultCache(size=2)


async def book_version() -> tuple[int, str]:
    """The audit chain's head: (seq, hash); the hash tells apart two chains that reached the same seq."""
    head = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return (int(head["seq"]), str(head["hash"])) if head else (0, "")


async def compute(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageResult:
    key: CacheKey = (await book_version(), as_of, include_unperfected, tuple(sorted((fx_rates or {}).items())))
    cached = RESULTS.get(key)
    if cached is not None:
        return cached
    result = await in_worker(lambda book: engine(book, params(as_of, include_unperfected, fx_rates)))
    RESULTS.put(key, result)
    return result


def money(columns: tuple[str, ...], currency: pl.Expr) -> list[pl.Expr]:
    return [money_text(name, currency) for name in columns]


async def loans_export(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> pl.DataFrame:
    """The DESIGN 8 export of every live loan, by loan_id."""
    return coverage_export_frame((await compute(as_of, include_unperfected, fx_rates)).per_loan)


def page_of(frame: pl.DataFrame, paging: Paging, row_type: type[T]) -> Page[T]:
    rows = frame.slice(paging.offset, paging.page_size).to_dicts()
    return Page(items=msgspec.convert(rows, list[row_type]), total=frame.height,  # type: ignore[valid-type]
                page=paging.page, page_size=paging.page_size)


def loans_page(frame: pl.DataFrame, paging: Paging) -> Page[CoverageLoan]:
    return page_of(frame, paging, CoverageLoan)


def _contributions(result: CoverageResult, loan_ref: str) -> list[CoverageContribution]:
    amount_currency = pl.coalesce(pl.col("value_currency"), pl.col("currency"))
    rows = (
        result.contributions.filter(pl.col("loan_id") == loan_ref)
        .sort("rank", "asset_id", "lien_id")
        .select(
            "asset_id", "kind", "lien_id", "holder", pl.col("rank").cast(pl.Int64), "value_currency",
            *money(("asset_value_after_haircut", "prior_ranks_took", "lien_claim", "lien_share"), amount_currency),
            money_text("loan_share", pl.col("currency")),
            "stale_valuation", "no_valuation", "asset_seized", "possible_double_pledge", "registration_expiring",
        )
        .collect()
    )
    return msgspec.convert(rows.to_dicts(), list[CoverageContribution])


async def loan_detail(ref: str, as_of: date, include_unperfected: bool,
                      fx_rates: FxRates | None = None) -> CoverageLoanDetail:
    """One loan's coverage row and the counted own liens that make it up (zero shares included: they
    explain a gap). A settled, written-off or unknown loan has no coverage: NotFoundError."""
    result = await compute(as_of, include_unperfected, fx_rates)
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


def borrowers_frame(per_borrower: pl.LazyFrame) -> pl.DataFrame:
    """Per borrower and currency, by borrower_id: the BorrowerCoverage columns, amounts as text."""
    return per_borrower.select(
        "borrower_id", "currency", pl.col("loans").cast(pl.Int64), *money(AMOUNTS, pl.col("currency")),
        exact_ratio_text("collateral_value", "exposure").alias("coverage_ratio"), pl.col("breaches").cast(pl.Int64),
    ).collect()


async def borrowers_export(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> pl.DataFrame:
    return borrowers_frame((await compute(as_of, include_unperfected, fx_rates)).per_borrower)


def borrowers_page(frame: pl.DataFrame, paging: Paging) -> Page[BorrowerCoverage]:
    return page_of(frame, paging, BorrowerCoverage)


async def borrower_detail(ref: str, as_of: date, include_unperfected: bool,
                          fx_rates: FxRates | None = None) -> BorrowerCoverageDetail:
    """A borrower's totals per currency and each of their live loans. No live loan: NotFoundError."""
    result = await compute(as_of, include_unperfected, fx_rates)
    mine = result.per_loan.filter(pl.col("borrower_id") == ref)
    loans = coverage_export_frame(mine)
    if loans.is_empty():
        raise NotFoundError("borrower with live loans", ref)
    totals = borrowers_frame(result.per_borrower.filter(pl.col("borrower_id") == ref))
    return BorrowerCoverageDetail(
        as_of=as_of, include_unperfected=include_unperfected, borrower_id=ref,
        totals=msgspec.convert(totals.to_dicts(), list[BorrowerCoverage]),
        loans=msgspec.convert(loans.to_dicts(), list[CoverageLoan]),
    )


def portfolio_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return result.portfolio.select(
        "currency", pl.col("loans").cast(pl.Int64), *money(AMOUNTS, pl.col("currency")),
        exact_ratio_text("collateral_value", "exposure").alias("coverage_ratio"),
        pl.col("breaches").cast(pl.Int64),
        *(pl.col(f"loans_{f}").cast(pl.Int64) for f in PORTFOLIO_FLAGS),
    ).collect().to_dicts()


def bucket_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return result.per_ltv_bucket.select(
        "currency", "ltv_bucket", pl.col("loans").cast(pl.Int64), *money(AMOUNTS, pl.col("currency")),
        pl.col("breaches").cast(pl.Int64),
    ).collect().to_dicts()


def kind_rows(result: CoverageResult) -> list[dict[str, Any]]:
    return result.per_asset_kind.select(
        "kind", "currency", pl.col("assets").cast(pl.Int64), pl.col("loans").cast(pl.Int64),
        money_text("collateral_value", pl.col("currency")),
    ).collect().to_dicts()


async def summary(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageSummary:
    """Portfolio totals per currency, loans and amounts per LTV bucket (every bucket, empty ones as zeros)
    per currency, and what each asset kind contributes per currency. No total adds one currency to another."""
    result = await compute(as_of, include_unperfected, fx_rates)
    return CoverageSummary(
        as_of=as_of,
        include_unperfected=include_unperfected,
        portfolio=msgspec.convert(portfolio_rows(result), list[CurrencyTotals]),
        ltv_buckets=msgspec.convert(bucket_rows(result), list[BucketTotals]),
        asset_kinds=msgspec.convert(kind_rows(result), list[KindTotals]),
    )


def figures(suffix: str) -> pl.Expr:
    """A side of a loans_side_by_side frame as a Figures struct (null when the loan is not on that side)."""
    def col(name: str) -> str:
        return name + suffix

    currency = pl.col("currency")
    return pl.when(pl.col(col("exposure")).is_not_null()).then(pl.struct(
        *(money_text(col(a), currency).alias(a) for a in AMOUNTS),
        exact_ratio_text(col("collateral_value"), col("exposure")).alias("coverage_ratio"),
        exact_ratio_text(col("exposure"), col("collateral_value")).alias("ltv"),
        pl.col(col("ltv_bucket")).alias("ltv_bucket"),
        pl.col(col("breach")).alias("breach"),
    ))


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
