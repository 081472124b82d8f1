"""Steps 5 and 6 of DESIGN section 5, and the largest-remainder split (DESIGN 7) as a frame operation.

`split_largest_remainder` is `registry.money.split_largest_remainder` for every group of a frame at once:
each part gets floor(amount x weight / total); the units left over go one each to the parts with the
largest fractional remainder, ties to the smaller ref. Only groups with units left over are sorted.
"""

from __future__ import annotations

import polars as pl

from valuation.coverage.steps import BIG, group_starts


def split_largest_remainder(
    frame: pl.LazyFrame, *, group: list[str], amount: str, weight: str, tie: str, out: str
) -> pl.LazyFrame:
    """`amount` is the group's amount (the same on each of its rows), `weight` the row's weight.
    Callers guarantee amount x weight fits in Int128 (engine.headroom) and that a group with a positive
    amount has a positive total weight (a rank takes nothing when its claims are 0; a lien's share is 0
    when its loans' exposure is 0)."""
    total = pl.col(weight).sum().over(group)
    product = pl.col(amount).cast(BIG) * pl.col(weight).cast(BIG)
    safe_total = pl.when(total > 0).then(total).otherwise(1)
    with_floor = frame.with_columns(
        (product // safe_total).alias("_floor"), (product % safe_total).alias("_rem")
    ).with_columns((pl.col(amount).cast(BIG) - pl.col("_floor").sum().over(group)).alias("_left"))
    done = with_floor.filter(pl.col("_left") == 0).with_columns(pl.col("_floor").alias(out))
    # The few groups with units left: order by (remainder desc, ref asc); the first `_left` get one more.
    rest = (
        with_floor.filter(pl.col("_left") > 0)
        .sort([*group, "_rem", tie], descending=[*([False] * len(group)), True, False])
        .with_columns(pl.int_range(pl.len()).over(group).alias("_pos"))
        .with_columns((pl.col("_floor") + (pl.col("_pos") < pl.col("_left")).cast(BIG)).alias(out))
        .drop("_pos")
    )
    return pl.concat([done, rest], how="vertical").drop("_floor", "_rem", "_left")


def allocate_ranks(liens: pl.LazyFrame) -> pl.LazyFrame:
    """Step 5. Per asset in rank order with R = value, rank k takes A_k = min(R_k, C_k) where C_k is the
    sum of its claims, and R_(k+1) = R_k - A_k. Claims are non-negative, so R_k = max(0, value - sum of
    earlier C), which is a cumulative sum rather than a loop. Needs asset_key, rank, lien_id, value and
    claim_v (the claim in the asset's valuation currency).

    Beside the share, `surplus_v`: the value left after the lien's rank took its claims, split among the
    rank's liens pro rata to claim. It is what the lien could still reach were its loans larger (up to its
    cap), and what LTV is measured against: a claim capped at the exposure would make every loan under a
    single lien read LTV >= 100% (docs/decisions.md, "LTV against reachable value")."""
    ranks = (
        liens.group_by("asset_key", "rank")
        .agg(pl.col("claim_v").sum().alias("rank_claim"), pl.col("value").first())
        .sort("asset_key", "rank")
        .with_columns(pl.col("rank_claim").cum_sum().alias("_through"))
        # Claims of earlier ranks of the same asset: the running total less its value where the asset began.
        .with_columns(
            (
                pl.col("_through")
                - pl.col("rank_claim")
                - (pl.col("_through") - pl.col("rank_claim")).gather(group_starts("asset_key"))
            ).alias("_before")
        )
        .with_columns(pl.max_horizontal(pl.col("value") - pl.col("_before"), pl.lit(0, BIG)).alias("_remaining"))
        .select(
            "asset_key",
            "rank",
            pl.min_horizontal("_remaining", "rank_claim").alias("rank_takes"),
            (pl.col("value") - pl.col("_remaining")).alias("ahead"),  # what earlier ranks took
            # What is left after the rank's claims: a rank with no claim reaches nothing.
            pl.when(pl.col("rank_claim") > 0)
            .then(pl.col("_remaining") - pl.min_horizontal("_remaining", "rank_claim"))
            .otherwise(pl.lit(0, BIG))
            .alias("rank_surplus"),
        )
    )
    shared = liens.join(ranks, on=["asset_key", "rank"])
    shares = split_largest_remainder(
        shared, group=["asset_key", "rank"], amount="rank_takes", weight="claim_v", tie="lien_id", out="lien_share_v"
    )
    return split_largest_remainder(
        shares, group=["asset_key", "rank"], amount="rank_surplus", weight="claim_v", tie="lien_id", out="surplus_v"
    )


def split_to_loans(own_liens: pl.LazyFrame, lien_loans: pl.LazyFrame, exposure: pl.LazyFrame) -> pl.LazyFrame:
    """Step 6. An own lien's share (already in its loans' currency) split pro rata to exposure, ties to
    the smaller loan_id, and its surplus the same way. One row per counted own lien x live loan, zero
    shares included: they explain."""
    rows = own_liens.join(lien_loans, on="lien_key").join(
        exposure.select("loan_key", "loan_id", "borrower_id", pl.col("currency").alias("loan_currency"), "exposure"),
        on="loan_key",
    )
    shares = split_largest_remainder(
        rows, group=["lien_key"], amount="lien_share", weight="exposure", tie="loan_id", out="loan_share"
    )
    return split_largest_remainder(
        shares, group=["lien_key"], amount="lien_surplus", weight="exposure", tie="loan_id", out="loan_surplus"
    )
