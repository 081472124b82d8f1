"""Steps 5 and 6 (valuation/coverage/fast.py): each asset's value allocated rank by rank,
each own lien's share back in its currency, and split over its loans pro rata to exposure, all with the
largest-remainder rule on runs of sorted frames."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from valuation.coverage.constants import BIG
from valuation.coverage.fast_positions import I64, run_sum, runs, scatter, small, total
from valuation.coverage.fast_state import State


def split_runs(
    frame: pl.DataFrame, amount: str, weight: str, total: str, tie: Callable[[pl.Series], pl.Series]
) -> pl.Series:
    """registry.money.split_largest_remainder (DESIGN 7) for every run of a frame at once: `_first`/`_last`
    mark each group's rows, `amount` and `total` (the
    group's sum of `weight`) are the same on each of its rows. Each row gets floor(amount x weight /
    total); the units left go one each to the largest remainders, ties to the smaller `tie` value (the
    refs of the rows at the frame positions it is given). A group of one row gets its amount. Only groups
    with units left sort."""
    single = frame["_first"] & frame["_last"]
    if bool(single.all()):
        return frame[amount]
    many = frame.filter(~single)
    # amount x weight in Int64 when the largest amount times the largest weight fits, else Int128.
    top = int(many[amount].max() or 0) * int(many[weight].max() or 0)  # type: ignore[arg-type]
    money = frame[amount].dtype
    dtype = I64 if money == I64 and top < 2**63 else BIG
    product = pl.col(amount).cast(dtype) * pl.col(weight).cast(dtype)
    safe = pl.when(pl.col(total) > 0).then(pl.col(total)).otherwise(1).cast(dtype)
    parts = (
        frame.select("_first", "_last", amount, weight, total, pl.int_range(pl.len(), dtype=I64).alias("_i"))
        .filter(~single)
        .select(
            "_first",
            "_last",
            "_i",
            pl.col(amount).alias("_amount"),
            (product // safe).cast(money).alias("_floor"),
            (product % safe).cast(money).alias("_rem"),
        )
    )
    parts = parts.with_columns(
        (pl.col("_amount") - run_sum(pl.col("_floor"), pl.col("_first"), pl.col("_last"))).alias("_left")
    )
    rest = parts.filter(pl.col("_left") > 0)
    out = frame[amount].scatter(parts["_i"], parts["_floor"])
    if not len(rest):
        return out
    # Order each group by remainder; only groups where two remainders tie are ordered by `tie` as well.
    rest = rest.with_columns(pl.col("_first").cast(I64).cum_sum().alias("_g")).sort(
        ["_g", "_rem"], descending=[False, True]
    )
    tied = rest.filter((pl.col("_g") == pl.col("_g").shift(1)) & (pl.col("_rem") == pl.col("_rem").shift(1)))["_g"]
    if len(tied):
        has_tie = rest["_g"].is_in(tied.unique().implode())
        broken = rest.filter(has_tie)
        broken = (
            broken.with_columns(tie(broken["_i"]).alias("_tie"))
            .sort(["_g", "_rem", "_tie"], descending=[False, True, False])
            .drop("_tie")
        )
        rest = pl.concat([rest.filter(~has_tie), broken])
    start, _ = runs(pl.col("_g"))
    index = pl.int_range(pl.len(), dtype=I64)
    bumped = rest.filter(index - pl.when(start).then(index).forward_fill() < pl.col("_left"))["_i"]
    return out.scatter(bumped, out.gather(bumped) + pl.Series([1], dtype=out.dtype))


class AllocationStages(State):
    def allocate(self) -> None:
        """Step 5. An asset with one live lien: it takes min(value, claim). The others, sorted by (asset,
        rank): running sums give each rank's claim and what the ranks ahead claimed; a rank of several
        liens splits what it takes. Then each own lien's share back in its currency."""
        alone = self.alone.with_columns(
            pl.min_horizontal("value", "claim_v").alias("lien_share_v"), pl.lit(0, self.M).alias("ahead")
        ).with_columns(
            pl.when(pl.col("claim_v") > 0)
            .then(pl.col("value") - pl.col("lien_share_v"))
            .otherwise(pl.lit(0, self.M))
            .alias("surplus_v")
        )
        first_asset, _ = runs(pl.col("_a"))
        first_rank = first_asset | pl.col("rank").ne_missing(pl.col("rank").shift(1))
        before = pl.col("_through") - pl.col("claim_v")
        together = (
            self.together.with_columns(
                first_rank.alias("_first"),
                first_rank.shift(-1, fill_value=True).alias("_last"),
                pl.col("claim_v").cum_sum().alias("_through"),
            )
            .with_columns(
                run_sum(pl.col("claim_v"), pl.col("_first"), pl.col("_last")).alias("rank_claim"),
                (
                    pl.when(pl.col("_first")).then(before).forward_fill()
                    - pl.when(first_asset).then(before).forward_fill()
                ).alias("_before"),
            )
            .with_columns(
                pl.max_horizontal(pl.col("value") - pl.col("_before"), pl.lit(0, self.M)).alias("_remaining"),
            )
            .with_columns(
                pl.min_horizontal("_remaining", "rank_claim").alias("rank_takes"),
                (pl.col("value") - pl.col("_remaining")).alias("ahead"),
            )
            .with_columns(
                pl.when(pl.col("rank_claim") > 0)
                .then(pl.col("_remaining") - pl.col("rank_takes"))
                .otherwise(pl.lit(0, self.M))
                .alias("rank_surplus")
            )
        )
        lien_ids = self.liens["lien_id"]

        def tie(rows: pl.Series) -> pl.Series:
            return lien_ids.gather(together["_l"].gather(rows))

        shares = split_runs(together, "rank_takes", "claim_v", "rank_claim", tie)
        surplus = split_runs(together, "rank_surplus", "claim_v", "rank_claim", tie)
        together = together.with_columns(shares.alias("lien_share_v"), surplus.alias("surplus_v"))
        columns = [
            "_l",
            "_a",
            "rank",
            "own",
            "claim",
            "value",
            "ahead",
            "claim_v",
            "lien_share_v",
            "surplus_v",
            "fx_num",
            "fx_den",
            "_m",
            "_flags",
        ]
        lien_rows = pl.concat([alone.select(columns), together.select(columns)]).filter("own")
        # Back in the lien's currency, rounded down and never above the claim (Int128 on converted rows).
        converted = ((lien_rows["fx_num"] != 1) | (lien_rows["fx_den"] != 1)).arg_true()
        share, surplus = lien_rows["lien_share_v"], lien_rows["surplus_v"]
        if len(converted):
            back = lien_rows[converted].select(
                pl.min_horizontal(
                    pl.col("lien_share_v").cast(BIG) * pl.col("fx_num") // pl.col("fx_den"), pl.col("claim").cast(BIG)
                ),
                pl.col("surplus_v").cast(BIG) * pl.col("fx_num") // pl.col("fx_den"),
            )
            share = share.scatter(converted, back.to_series(0).cast(self.M))
            surplus = surplus.scatter(converted, small(back.to_series(1), self.M))
        lien_rows = lien_rows.with_columns(share.alias("lien_share"), surplus.alias("_surplus"))
        # The surplus within the lien's cap; a lien with no claim lends it to no loan.
        self.lien_rows = (
            lien_rows.with_columns(self.liens["cap"].gather(lien_rows["_l"]).cast(self.M).alias("_cap"))
            .with_columns(
                pl.when(pl.col("claim") == 0)
                .then(pl.lit(0, self.M))
                .when(pl.col("_cap").is_null())
                .then(pl.col("_surplus"))
                .otherwise(pl.min_horizontal(pl.col("_surplus"), pl.col("_cap") - pl.col("lien_share")))
                .alias("lien_surplus")
            )
            .drop("_surplus", "_cap")
        )
        total(self.lien_rows["lien_surplus"], self.M)
        self.at_lien = scatter(self.n_liens, lien_rows["_l"], pl.int_range(len(lien_rows), dtype=I64, eager=True), None)

    def split(self) -> None:
        """Step 6: a lien with one loan passes its share and surplus whole; the others split each pro rata
        to exposure."""
        at = self.at_lien.gather(self.by_lien["_l"])
        by_lien = self.by_lien.with_columns(
            self.lien_rows["lien_share"].gather(at).alias("lien_share"),
            self.lien_rows["lien_surplus"].gather(at).alias("lien_surplus"),
            self.secured.gather(self.by_lien["_l"]).alias("_secured"),
        )
        loan_ids = self.loans["loan_id"]

        def tie(rows: pl.Series) -> pl.Series:
            return loan_ids.gather(by_lien["_o"].gather(rows))

        shares = split_runs(by_lien, "lien_share", "exposure", "_secured", tie)
        surplus = split_runs(by_lien, "lien_surplus", "exposure", "_secured", tie)
        self.loan_share = scatter(len(self.by_loan), by_lien["_row"], shares, 0)
        self.loan_surplus = scatter(len(self.by_loan), by_lien["_row"], surplus, 0)
