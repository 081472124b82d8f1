"""Step 8 of DESIGN section 5: roll-ups of the per-loan coverage. Every money roll-up is grouped by
currency as well, so no total ever adds yuan to dollars."""

from __future__ import annotations

import polars as pl

from valuation.coverage.constants import SCALE

BUCKETS = ("<=50%", "50-70%", "70-90%", "90-100%", ">100%", "uncovered")


def ltv_bucket_index(exposure: pl.Expr, reach: pl.Expr) -> pl.Expr:
    """The index in BUCKETS of exposure / reach, exact on integers (no float edge cases): ltv <= 0.5 is
    2 x exposure <= reach, and so on. The caller picks a type in which reach x 10 fits."""
    return (
        pl.when(reach == 0)
        .then(5)
        .when(exposure * 2 <= reach)
        .then(0)
        .when(exposure * 10 <= reach * 7)
        .then(1)
        .when(exposure * 10 <= reach * 9)
        .then(2)
        .when(exposure <= reach)
        .then(3)
        .otherwise(4)
    )


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return (
        pl.when(pl.col(denominator) > 0)
        .then(pl.col(numerator).cast(pl.Float64) / pl.col(denominator).cast(pl.Float64))
        .otherwise(None)
    )


def _money_sums() -> list[pl.Expr]:
    return [
        pl.len().alias("loans"),
        *(pl.col(c).sum() for c in ("exposure", "collateral_value", "covered", "uncovered")),
        pl.col("breach").sum().alias("breaches"),
    ]


def per_borrower(per_loan: pl.LazyFrame) -> pl.LazyFrame:
    return (
        per_loan.group_by("borrower_id", "currency")
        .agg(_money_sums())
        .with_columns(_ratio("collateral_value", "exposure").alias("coverage_ratio"))
        .sort("borrower_id", "currency")
    )


_BUCKET_SUMS = ("loans", "exposure", "collateral_value", "covered", "uncovered", "breaches")


def per_ltv_bucket(per_loan: pl.LazyFrame) -> pl.LazyFrame:
    """Every bucket for every currency in the book, empty ones as zeros, in bucket order."""
    return finish_buckets(per_loan.group_by("ltv_bucket", "currency").agg(_money_sums()), per_loan.select("currency"))


def finish_buckets(counts: pl.LazyFrame, currencies: pl.LazyFrame) -> pl.LazyFrame:
    """The buckets' sums (ltv_bucket, currency and _BUCKET_SUMS) on the grid of every bucket for each of the
    currencies (a frame of them, repeats allowed)."""
    grid = currencies.unique().join(
        pl.LazyFrame({"ltv_bucket": list(BUCKETS), "_order": list(range(len(BUCKETS)))}), how="cross"
    )
    return (
        grid.join(counts, on=["ltv_bucket", "currency"], how="left")
        .with_columns(pl.col(c).fill_null(0) for c in _BUCKET_SUMS)
        .sort("currency", "_order")
        .select("currency", "ltv_bucket", *_BUCKET_SUMS)
    )


def per_asset_kind(contributions: pl.LazyFrame) -> pl.LazyFrame:
    """What each kind of collateral contributes to the loans, in the loans' currency."""
    return finish_kinds(
        contributions.group_by("kind", "currency").agg(
            pl.col("asset_id").n_unique().alias("assets"),
            pl.col("loan_id").n_unique().alias("loans"),
            pl.col("loan_share").sum().alias("collateral_value"),
        )
    )


def finish_kinds(sums: pl.LazyFrame) -> pl.LazyFrame:
    return sums.sort("kind", "currency")


# The flags DESIGN 5 raises on a loan (an asset's flag reaches every loan it secures).
LOAN_FLAGS = (
    "stale_valuation",
    "no_valuation",
    "unperfected",
    "registration_expiring",
    "asset_seized",
    "possible_double_pledge",
)


def portfolio(per_loan: pl.LazyFrame) -> pl.LazyFrame:
    return finish_portfolio(
        per_loan.group_by("currency").agg(*_money_sums(), *(pl.col(f).sum().alias(f"loans_{f}") for f in LOAN_FLAGS))
    )


def finish_portfolio(sums: pl.LazyFrame) -> pl.LazyFrame:
    """Per-currency sums as the portfolio: with their coverage ratio (a display value), by currency."""
    return sums.with_columns(_ratio("collateral_value", "exposure").alias("coverage_ratio")).sort("currency")


def display_ltv(exposure: str, collateral: str, reachable: str, weighted: str) -> list[pl.Expr]:
    """Float64 ratios for display only; breach and buckets are decided on integers. LTV and its limit are
    measured against the reachable value, coverage against the collateral value."""
    rv = pl.col(reachable).cast(pl.Float64)
    positive = pl.col(reachable) > 0
    return [
        _ratio(collateral, exposure).alias("coverage_ratio"),
        pl.when(positive).then(pl.col(exposure).cast(pl.Float64) / rv).alias("ltv"),
        # The weighted limit over the reachable value in whole units of SCALE (an integer division, so the
        # float is one rounding of one exact integer, whatever plan Polars makes of it).
        pl.when(positive).then((pl.col(weighted) // pl.col(reachable)).cast(pl.Float64) / SCALE).alias("max_ltv"),
    ]
