"""compute_coverage: DESIGN section 5, steps 1-8, as one pure function of Polars frames.

Two paths with the same results. The narrow one (fast.py) takes a book whose loan, asset and lien keys
are dense (as refs.key_book gives them) or strictly increasing, and whose amounts keep every sum below
2^62: Int64 money, gathers by key instead of joins, sorted runs instead of group-bys; it runs this
module's refusals and headroom test in the same order. Any other book takes the general path here:
Int128 sums and products, joins and group-bys, with two materialisation points: the counted liens with
their claims and asset values (small next to the book, and needed eagerly anyway to list missing fx
rates and policies before any number is produced), then the contributions. Either way the allocation is
materialised and the result's LazyFrames read it, so collecting several roll-ups never reruns it (the
narrow path gathers the contributions' refs, loan_id and the like, when that frame is collected).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import polars as pl

from valuation.coverage import fast, fx
from valuation.coverage.allocate import allocate_ranks, split_to_loans
from valuation.coverage.errors import CoverageInputError
from valuation.coverage.frames import SHOCKS, BookFrames, CoverageParams, conform
from valuation.coverage.rollups import (
    ASSET_FLAGS,
    LOAN_FLAGS,
    display_ltv,
    ltv_bucket,
    per_asset_kind,
    per_borrower,
    per_ltv_bucket,
    portfolio,
)
from valuation.coverage.steps import BIG, SCALE, asset_values, exposures, lien_claims, ranked_liens

MONEY_OUT = pl.Int64  # a strict cast back: an amount past Int64 raises instead of wrapping
# Polars 2.1's default (streaming) engine panics on some small books in the step 5/6 plan
# ("pipe.send_state == PortState::Done", found by the property tests); the in-memory engine is exact.
IN_MEMORY: Final = "in-memory"
HEADROOM = 2**126  # Int128 holds < 2^127; one bit spare for the sums taken after a product


@dataclass(frozen=True, slots=True)
class CoverageResult:
    per_loan: pl.LazyFrame
    contributions: pl.LazyFrame
    per_borrower: pl.LazyFrame
    per_asset_kind: pl.LazyFrame
    per_ltv_bucket: pl.LazyFrame
    portfolio: pl.LazyFrame


def _refuse_bad_liens(liens: pl.DataFrame) -> None:
    no_policy = liens.filter(~pl.col("has_policy").fill_null(False))["kind"].unique().sort().to_list()
    if no_policy:
        raise CoverageInputError(f"no policy for asset kind(s) under counted liens: {', '.join(map(str, no_policy))}")
    mixed = liens.filter(
        pl.col("own")
        & pl.col("loan_currency_min").is_not_null()
        & ((pl.col("loan_currency_min") != pl.col("currency")) | (pl.col("loan_currency_max") != pl.col("currency")))
    )["lien_id"].sort()
    if len(mixed):
        raise CoverageInputError(
            f"own liens whose loans are not all in the lien's currency: {', '.join(mixed.head(20).to_list())}"
            + (f" and {len(mixed) - 20} more" if len(mixed) > 20 else "")
        )


def headroom(liens: pl.DataFrame, exposure: pl.DataFrame, factors: dict[fx.Pair, tuple[int, int]]) -> None:
    """Prove, for this book, that no Int128 product below overflows; refuse the book otherwise.

    Every product the engine forms is bounded by one of these (V = largest asset value, C = largest
    claim, E = largest exposure, N/D = largest fx numerator/denominator, M = largest scaled max_ltv,
    n = number of counted liens):
    claim x D (claim into the valuation currency); the claim so converted is <= C x D, and a rank's or an
    asset's sum of them <= n x C x D; rank share or surplus x claim_v <= V x C x D (step 5 split); lien
    share or surplus x N <= V x N (back to the loan currency); (lien share + surplus) x exposure <=
    (C + V x N) x E (step 6, lien share <= claim); a loan's sum of reach x max_ltv <= n x (C + V x N) x M;
    exposure x 10^12 (breach test).
    Realistic books (values and claims below 10^15 minor units, rates with a few decimals) sit far inside.
    """

    def top(frame: pl.DataFrame, column: str) -> int:
        value = frame[column].max() if len(frame) else 0
        return int(value) if value is not None else 0  # type: ignore[arg-type]

    check_bounds(
        top(liens, "value"),
        top(liens, "claim"),
        top(exposure, "exposure"),
        top(liens, "max_ltv_scaled"),
        len(liens),
        factors,
    )


def check_bounds(v: int, c: int, e: int, m: int, count: int, factors: dict[fx.Pair, tuple[int, int]]) -> None:
    """headroom's test on the maxima it names (count = number of counted liens)."""
    n_max = max((f[0] for f in factors.values()), default=1)
    d_max = max((f[1] for f in factors.values()), default=1)
    n = max(count, 1)
    bounds = {
        "claims in the valuation currency": n * c * d_max,
        "rank split": v * c * d_max,
        "conversion to the loan currency": v * n_max,
        # A lien's surplus (beside its share) is at most the asset's value in the lien's currency.
        "split over loans": (c + v * n_max) * e,
        "max LTV weighting": n * (c + v * n_max) * m,
        "breach test": e * SCALE,
    }
    over = [name for name, bound in bounds.items() if bound >= HEADROOM]
    if over:
        raise CoverageInputError(f"amounts too large for exact arithmetic ({', '.join(over)})")


def _counted_liens(
    book: BookFrames, params: CoverageParams, exposure: pl.DataFrame, shocks: pl.LazyFrame | None
) -> pl.DataFrame:
    values = asset_values(book.assets, book.valuations, book.policies, book.double_pledge_assets, shocks, params.as_of)
    claims = lien_claims(ranked_liens(book.liens, params.include_unperfected), book.lien_loans, exposure.lazy())
    expiring_by = params.as_of + timedelta(days=params.expiring_within_days)
    return (
        claims.join(values, on="asset_key", how="left")
        .with_columns(
            (pl.col("expires_on").is_not_null() & (pl.col("expires_on") <= expiring_by)).alias("registration_expiring"),
            pl.col("value").fill_null(pl.lit(0, BIG)),
        )
        .collect(engine=IN_MEMORY)
    )


def _contributions(
    liens: pl.DataFrame, book: BookFrames, exposure: pl.DataFrame, factors: dict[fx.Pair, tuple[int, int]]
) -> pl.DataFrame:
    allocated = allocate_ranks(fx.with_factors(liens.lazy(), factors)).with_columns(
        # Step 5's share back in the lien's (its loans') currency, never above the claim itself.
        pl.min_horizontal(fx.to_claim_currency(pl.col("lien_share_v")), pl.col("claim")).alias("lien_share")
    )
    # The surplus in the lien's currency, within its cap; a lien with no claim has no loans to lend it to.
    surplus = fx.to_claim_currency(pl.col("surplus_v"))
    allocated = allocated.with_columns(
        pl.when(pl.col("claim") == 0)
        .then(pl.lit(0, BIG))
        .when(pl.col("cap").is_null())
        .then(surplus)
        .otherwise(pl.min_horizontal(surplus, pl.col("cap").cast(BIG) - pl.col("lien_share")))
        .alias("lien_surplus")
    )
    rows = split_to_loans(allocated.filter(pl.col("own")), book.lien_loans, exposure.lazy())
    return rows.select(
        "loan_key",
        "loan_id",
        "borrower_id",
        pl.col("loan_currency").alias("currency"),
        "asset_id",
        "kind",
        "lien_id",
        "holder",
        "rank",
        "value_currency",
        pl.col("value").cast(MONEY_OUT).alias("asset_value_after_haircut"),
        pl.col("ahead").cast(MONEY_OUT).alias("prior_ranks_took"),
        pl.col("claim_v").cast(MONEY_OUT).alias("lien_claim"),
        pl.col("lien_share_v").cast(MONEY_OUT).alias("lien_share"),
        pl.col("surplus_v").cast(MONEY_OUT).alias("lien_surplus"),
        pl.col("loan_share").cast(MONEY_OUT),
        (pl.col("loan_share") + pl.col("loan_surplus")).cast(MONEY_OUT).alias("loan_reach"),
        *ASSET_FLAGS,
        "registration_expiring",
        ((pl.col("loan_share") + pl.col("loan_surplus")) * pl.col("max_ltv_scaled")).alias("_weighted_limit"),
    ).collect(engine=IN_MEMORY)


def _per_loan(book: BookFrames, exposure: pl.DataFrame, contributions: pl.DataFrame) -> pl.DataFrame:
    by_loan = (
        contributions.lazy()
        .group_by("loan_key")
        .agg(
            pl.col("loan_share").cast(BIG).sum().alias("collateral_value"),
            pl.col("loan_reach").cast(BIG).sum().alias("reachable_value"),
            pl.col("_weighted_limit").sum(),
            *(pl.col(f).any() for f in ASSET_FLAGS),
            pl.col("registration_expiring").any(),
        )
    )
    unperfected = (
        book.liens.filter((pl.col("holder") == "own") & ~pl.col("status").is_in(["registered", "released"]))
        .select("lien_key")
        .join(book.lien_loans, on="lien_key")
        .select("loan_key")
        .unique()
        .with_columns(pl.lit(True).alias("unperfected"))
    )
    cv, ex, rv = pl.col("collateral_value"), pl.col("exposure"), pl.col("reachable_value")
    return (
        exposure.lazy()
        .join(by_loan, on="loan_key", how="left")
        .join(unperfected, on="loan_key", how="left")
        .with_columns(
            cv.fill_null(pl.lit(0, BIG)),
            rv.fill_null(pl.lit(0, BIG)),
            pl.col("_weighted_limit").fill_null(pl.lit(0, BIG)),
            *(pl.col(f).fill_null(False) for f in LOAN_FLAGS),
        )
        .with_columns(
            pl.min_horizontal(ex, cv).alias("covered"),
            # ltv > max_ltv  <=>  exposure / rv > weighted / (SCALE x rv)  <=>  exposure x SCALE > weighted.
            ((ex > 0) & ((rv == 0) | (ex * SCALE > pl.col("_weighted_limit")))).alias("breach"),
            ltv_bucket(ex, rv).alias("ltv_bucket"),
            *display_ltv("exposure", "collateral_value", "reachable_value", "_weighted_limit"),
        )
        .select(
            "loan_id",
            "borrower_id",
            "currency",
            ex.cast(MONEY_OUT),
            cv.cast(MONEY_OUT),
            pl.col("covered").cast(MONEY_OUT),
            (ex - pl.col("covered")).cast(MONEY_OUT).alias("uncovered"),
            rv.cast(MONEY_OUT),
            "coverage_ratio",
            "ltv",
            "max_ltv",
            "breach",
            "stale_valuation",
            "no_valuation",
            "unperfected",
            "registration_expiring",
            "asset_seized",
            "possible_double_pledge",
            "ltv_bucket",
            "loan_key",
        )
        .sort("loan_key")
        .collect(engine=IN_MEMORY)
    )


def compute_coverage(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None = None) -> CoverageResult:
    """Coverage of every live loan as of params.as_of. `shocks` (asset_key, multiplier) scales asset
    values after the haircut and before step 5 (stress.py builds it)."""
    book = book.conformed()
    shocks = None if shocks is None else conform(shocks, SHOCKS)
    per_loan_frame, explained = fast.compute(book, params, shocks, _refuse_bad_liens, check_bounds)
    per_loan = per_loan_frame.lazy()
    return CoverageResult(  # step 8
        per_loan=per_loan,
        contributions=explained,
        per_borrower=per_borrower(per_loan),
        per_asset_kind=per_asset_kind(explained),
        per_ltv_bucket=per_ltv_bucket(per_loan),
        portfolio=portfolio(per_loan),
    )


def _compute_wide(
    book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The general path: any integer keys, Int128 sums and products, joins and group-bys."""
    exposure = exposures(book.loans).collect()  # step 1
    liens = _counted_liens(book, params, exposure, shocks)  # 2-4
    _refuse_bad_liens(liens)
    needed = (
        liens.filter(pl.col("value_currency").is_not_null() & (pl.col("value_currency") != pl.col("currency")))
        .select("value_currency", "currency")
        .unique()
    )
    factors = fx.factors(needed.iter_rows(), params.fx_rates)
    headroom(liens, exposure, factors)
    contributions = _contributions(liens, book, exposure, factors)  # steps 5-6
    return _per_loan(book, exposure, contributions), contributions  # step 7
