"""Steps 1-4 of DESIGN section 5: exposure, asset value, counted liens with their ranks, claims.

Money that can grow past Int64 (sums, and products with scaled ratios) is Int128 here; engine.py
checks the headroom of every product before it is formed (see `headroom` there).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from registry.ledger_rules import BALANCE_COMPONENTS

# Ratios (haircut, max_ltv, shock multipliers) as exact integers: a Decimal(38, 12) times 10^12.
SCALE = 10**12
BIG = pl.Int128
GONE_LOAN = ("settled", "written_off")
TERMINAL_LIEN = ("released", "rejected", "expired")
# Assets a court holds: an asset in disposal was seized first, and the officer must still see it.
SEIZED_ASSET = ("seized", "in_disposal")


def scaled(ratio: pl.Expr) -> pl.Expr:
    return (ratio * SCALE).cast(BIG)


def exposures(loans: pl.LazyFrame) -> pl.LazyFrame:
    """Step 1. Loans settled or written off carry no exposure and leave the report."""
    return loans.filter(~pl.col("status").is_in(GONE_LOAN)).select(
        "loan_key",
        "loan_id",
        "borrower_id",
        "currency",
        # Four Int64 components < 2^63 each: the sum is < 2^65, so it is formed in Int128.
        pl.sum_horizontal(pl.col(c).cast(BIG) for c in BALANCE_COMPONENTS).alias("exposure"),
    )


def latest_valuations(valuations: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The latest approved valuation on or before as_of. Two approved valuations on that same day (two
    methods) are settled by the lower market value: the prudent reading, and deterministic."""
    approved = valuations.filter((pl.col("status") == "approved") & (pl.col("valued_on") <= as_of)).select(
        "asset_key", "valued_on", "market_value", "currency"
    )
    newest = approved.group_by("asset_key").agg(pl.col("valued_on").max())
    on_newest_day = approved.join(newest, on=["asset_key", "valued_on"], how="semi")
    return on_newest_day.group_by("asset_key").agg(
        pl.col("valued_on").first(),
        pl.col("currency").get(pl.col("market_value").arg_min()).alias("value_currency"),
        pl.col("market_value").min(),
    )


def asset_values(
    assets: pl.LazyFrame,
    valuations: pl.LazyFrame,
    policies: pl.LazyFrame,
    double_pledge: pl.LazyFrame,
    shocks: pl.LazyFrame | None,
    as_of: date,
) -> pl.LazyFrame:
    """Step 2, plus the asset's flags, its policy's max LTV and any stress multiplier (applied to the
    value after the haircut, before step 5)."""
    frame = (
        assets.join(latest_valuations(valuations, as_of), on="asset_key", how="left")
        .join(policies, on="kind", how="left")
        .join(
            double_pledge.unique().with_columns(pl.lit(True).alias("possible_double_pledge")),
            on="asset_key",
            how="left",
        )
    )
    # market_value < 2^63 times (SCALE - haircut) <= 10^12 < 2^40: < 2^103, inside Int128.
    after_haircut = pl.col("market_value").cast(BIG) * (SCALE - scaled(pl.col("haircut"))) // SCALE
    value = pl.when(pl.col("market_value").is_null()).then(pl.lit(0, BIG)).otherwise(after_haircut)
    if shocks is not None:
        frame = frame.join(shocks.group_by("asset_key").agg(pl.col("multiplier").first()), on="asset_key", how="left")
        # value < 2^103 / 10^12 < 2^64 times a multiplier <= 11 scaled (< 2^44): < 2^108.
        value = (
            pl.when(pl.col("multiplier").is_null()).then(value).otherwise(value * scaled(pl.col("multiplier")) // SCALE)
        )
    age = (pl.lit(as_of) - pl.col("valued_on")).dt.total_days()
    return frame.select(
        "asset_key",
        "asset_id",
        "kind",
        pl.col("haircut").is_not_null().alias("has_policy"),
        "value_currency",
        "valued_on",
        value.alias("value"),
        scaled(pl.col("max_ltv")).alias("max_ltv_scaled"),
        pl.col("market_value").is_null().alias("no_valuation"),
        (pl.col("valued_on").is_not_null() & (age > pl.col("revaluation_days")))
        .fill_null(False)
        .alias("stale_valuation"),
        pl.col("status").is_in(SEIZED_ASSET).alias("asset_seized"),
        pl.col("possible_double_pledge").fill_null(False),
    )


def group_starts(key: str) -> pl.Expr:
    """On a frame sorted by `key`: the row index where each row's group begins. A shift and a forward
    fill, not a window: a window over a million one-row groups costs seconds, this costs milliseconds."""
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    first = pl.col(key).ne_missing(pl.col(key).shift(1))
    return pl.when(first).then(index).forward_fill()


def ranked_liens(liens: pl.LazyFrame, include_unperfected: bool) -> pl.LazyFrame:
    """Step 3, ranked exactly as registry.ranking.rank_liens: registered liens with a perfection time take
    dense ranks by it (equal times share); every other live lien shares the rank after them. Ranks are
    given over all live liens of the asset, then the ones that count are kept."""
    alive = liens.filter(~pl.col("status").is_in(TERMINAL_LIEN)).with_columns(
        pl.when(pl.col("status") == "registered").then(pl.col("perfected_at")).alias("_time")
    )
    times = (
        alive.select("asset_key", "_time")
        .drop_nulls("_time")
        .unique()
        .sort("asset_key", "_time")
        .with_columns((pl.int_range(pl.len(), dtype=pl.Int64) - group_starts("asset_key") + 1).alias("_time_rank"))
    )
    last = times.group_by("asset_key").agg((pl.col("_time_rank").max() + 1).alias("_last"))
    counted = pl.col("status") == "registered"
    if include_unperfected:
        counted = counted | (pl.col("status") == "submitted")
    return (
        alive.filter(counted)
        .join(times, on=["asset_key", "_time"], how="left")
        .join(last, on="asset_key", how="left")
        .with_columns(
            pl.coalesce("_time_rank", "_last", pl.lit(1, pl.Int64)).alias("rank"),
            (pl.col("holder") == "own").alias("own"),
        )
        .drop("_time", "_time_rank", "_last")
    )


def lien_claims(ranked: pl.LazyFrame, lien_loans: pl.LazyFrame, exposure: pl.LazyFrame) -> pl.LazyFrame:
    """Step 4: own -> min(cap, sum of its loans' exposure), cap null = unlimited; other -> external_claim.
    An other creditor's lien without a claim counts as 0 (the import requires the claim)."""
    secured = (
        lien_loans.join(
            exposure.select("loan_key", "exposure", pl.col("currency").alias("loan_currency")), on="loan_key"
        )
        .group_by("lien_key")
        .agg(
            # < 2^65 per loan and < 2^40 loans: < 2^105.
            pl.col("exposure").sum().alias("secured_exposure"),
            pl.col("loan_currency").min().alias("loan_currency_min"),
            pl.col("loan_currency").max().alias("loan_currency_max"),
        )
    )
    frame = ranked.join(secured, on="lien_key", how="left").with_columns(
        pl.col("secured_exposure").fill_null(pl.lit(0, BIG))
    )
    own_claim = (
        pl.when(pl.col("cap").is_null())
        .then(pl.col("secured_exposure"))
        .otherwise(pl.min_horizontal(pl.col("cap").cast(BIG), pl.col("secured_exposure")))
    )
    claim = pl.when(pl.col("own")).then(own_claim).otherwise(pl.col("external_claim").cast(BIG).fill_null(0))
    return frame.with_columns(claim.alias("claim"))
