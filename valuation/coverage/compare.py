"""Two coverage results side by side (base and stressed, before and after a what-if). Pure.

Columns of the per-loan frame keep their names with `_before` and `_after` added; a loan present on one
side only (a what-if cannot make one appear, but the comparison does not assume it) has nulls on the
other. `breach_change` is "appears", "clears" or null.
"""

from __future__ import annotations

import polars as pl

LOAN_FIGURES = (
    "exposure",
    "collateral_value",
    "covered",
    "uncovered",
    "reachable_value",
    "coverage_ratio",
    "ltv",
    "ltv_bucket",
    "breach",
)
TOTAL_FIGURES = ("loans", "exposure", "collateral_value", "covered", "uncovered", "breaches")
BEFORE, AFTER = "_before", "_after"


def _side(frame: pl.LazyFrame, keys: tuple[str, ...], figures: tuple[str, ...], suffix: str) -> pl.LazyFrame:
    return frame.select(*keys, *(pl.col(c).alias(c + suffix) for c in figures))


def breach_change() -> pl.Expr:
    was, now = pl.col("breach" + BEFORE).fill_null(False), pl.col("breach" + AFTER).fill_null(False)
    return pl.when(~was & now).then(pl.lit("appears")).when(was & ~now).then(pl.lit("clears")).alias("breach_change")


def loans_side_by_side(before: pl.LazyFrame, after: pl.LazyFrame) -> pl.LazyFrame:
    """Every loan of either per-loan frame, with both sides' figures and the breach change."""
    keys = ("loan_id", "borrower_id", "currency")
    left = _side(before, keys, LOAN_FIGURES, BEFORE)
    right = _side(after, keys, LOAN_FIGURES, AFTER).rename({"borrower_id": "_borrower", "currency": "_currency"})
    return (
        left.join(right, on="loan_id", how="full", coalesce=True)
        .with_columns(
            pl.coalesce("borrower_id", "_borrower").alias("borrower_id"),
            pl.coalesce("currency", "_currency").alias("currency"),
            breach_change(),
        )
        .drop("_borrower", "_currency")
    )


def changed() -> pl.Expr:
    """On a loans_side_by_side frame: true where the loan's coverage differs between the sides (its
    exposure, its collateral value, its reachable value and so its LTV, or its breach), or where it is on
    one side only."""
    return pl.any_horizontal(
        pl.col(c + BEFORE).ne_missing(pl.col(c + AFTER))
        for c in ("exposure", "collateral_value", "reachable_value", "breach")
    )


def totals_side_by_side(before: pl.LazyFrame, after: pl.LazyFrame, keys: tuple[str, ...]) -> pl.LazyFrame:
    """Roll-ups (portfolio by currency, buckets by currency and bucket) joined on their keys; a key on one
    side only is all zeros on the other."""
    joined = _side(before, keys, TOTAL_FIGURES, BEFORE).join(
        _side(after, keys, TOTAL_FIGURES, AFTER), on=list(keys), how="full", coalesce=True, maintain_order="left"
    )
    return joined.with_columns(pl.col(c + s).fill_null(0) for c in TOTAL_FIGURES for s in (BEFORE, AFTER))
