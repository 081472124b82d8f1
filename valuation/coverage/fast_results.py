"""Step 7 and the outputs (valuation/coverage/fast.py): the contributions, in loan order, and
per loan the collateral and reachable values, coverage, LTV, breach, bucket and flags."""

from __future__ import annotations

import polars as pl

from valuation.coverage.constants import BIG, SCALE
from valuation.coverage.fast_positions import (
    FIELD,
    FLAGS,
    I64,
    LIMIT,
    flag,
    run_totals,
    runs,
    scatter,
    spread,
    top,
    trues,
)
from valuation.coverage.fast_state import State
from valuation.coverage.rollups import BUCKETS, LOAN_FLAGS, display_ltv, ltv_bucket_index


class ResultStages(State):
    def contributions(self) -> pl.LazyFrame:
        """The contributions, in loan order, with the lien's and the asset's columns gathered on. The refs
        are gathered when the frame is collected, and only the ones a caller selects."""
        rows, lien_of, loan_share = self.by_loan["_o"], self.by_loan["_l"], self.loan_share
        picked = self.lien_rows.select(
            "_a", "rank", "value", "ahead", "claim_v", "lien_share_v", "surplus_v", "_m", "_flags"
        )[self.at_lien.gather(lien_of)]
        # Both below LIMIT: a lien's loans' shares (surpluses) add up to its share (surplus), each checked.
        loan_reach = loan_share + self.loan_surplus
        total_reach = int(loan_reach.sum())
        reduced = I64 if self.M == I64 and top(self.max_ltv_reduced) * total_reach < LIMIT else BIG
        self.numbers = pl.DataFrame(
            {
                "_o": rows,
                "_l": lien_of,
                "_a": picked["_a"],
                "loan_key": self.loans["loan_key"].gather(rows),
                "rank": picked["rank"],
                "asset_value_after_haircut": picked["value"],
                "prior_ranks_took": picked["ahead"],
                "lien_claim": picked["claim_v"],
                "lien_share": picked["lien_share_v"],
                "lien_surplus": picked["surplus_v"],
                "loan_share": loan_share,
                "loan_reach": loan_reach,
                "_flags": picked["_flags"],
                "_weighted": loan_reach.cast(reduced) * picked["_m"].cast(reduced),
            }
        )
        loans, assets, liens = self.loans, self.assets, self.liens

        def out(name: str) -> pl.Expr:
            return pl.col(name).cast(pl.Int64)  # strict: an amount past Int64 raises instead of wrapping

        def text(source: pl.Series, key: str, name: str) -> pl.Expr:
            return pl.lit(source).gather(pl.col(key)).alias(name)

        return self.numbers.lazy().select(
            "loan_key",
            text(loans["loan_id"], "_o", "loan_id"),
            text(loans["borrower_id"], "_o", "borrower_id"),
            text(loans["currency"], "_o", "currency"),
            text(assets["asset_id"], "_a", "asset_id"),
            text(assets["kind"], "_a", "kind"),
            text(liens["lien_id"], "_l", "lien_id"),
            text(liens["holder"], "_l", "holder"),
            "rank",
            pl.lit(pl.Series(self.currencies, dtype=pl.String))
            .gather(pl.lit(self.value_ccy).gather(pl.col("_a")))
            .alias("value_currency"),
            out("asset_value_after_haircut"),
            out("prior_ranks_took"),
            out("lien_claim"),
            out("lien_share"),
            out("lien_surplus"),
            out("loan_share"),
            out("loan_reach"),
            *(flag(pl.col("_flags"), f) for f in FLAGS),
        )

    def per_loan(self) -> pl.DataFrame:
        """Step 7: per loan, over the loan's run of contributions."""
        _, last_loan = runs(pl.col("loan_key"))
        numbers = self.numbers.with_columns(last_loan.alias("_last"))
        per_run = run_totals(
            numbers,
            "_last",
            {
                "collateral_value": pl.col("loan_share"),
                "reachable_value": pl.col("loan_reach"),
                "_weighted": pl.col("_weighted"),
                "_flags": pl.col("_flags"),
                "_rows": pl.lit(1, I64),
            },
            keep=["_o"],
        )
        if len(per_run) and top(per_run["_rows"]) >= FIELD:  # a flag's count could spill into the next field
            counts = run_totals(numbers, "_last", {f: flag(pl.col("_flags"), f).cast(I64) for f in FLAGS}, keep=[])
            per_run = per_run.with_columns(
                pl.sum_horizontal((counts[f] > 0).cast(I64) * FIELD ** FLAGS.index(f) for f in FLAGS).alias("_flags")
            )
        totals = spread(
            self.n_loans,
            per_run["_o"],
            per_run.select(
                pl.col("collateral_value"),
                pl.col("reachable_value"),
                pl.col("_weighted"),
                *(flag(pl.col("_flags"), f) for f in FLAGS),
            ),
        )
        weighted = totals["_weighted"].fill_null(0)
        frame = pl.DataFrame(
            {
                "exposure": self.exposure,
                "collateral_value": totals["collateral_value"].fill_null(0),
                "reachable_value": totals["reachable_value"].fill_null(0),
                "_weighted": weighted,
                **{f: totals[f].fill_null(False) for f in FLAGS},
                "unperfected": scatter(self.n_loans, self.unperfected_loans, trues(len(self.unperfected_loans)), False),
            }
        )
        texts = self.loans.select("loan_id", "borrower_id", "currency")
        keys = self.loans["loan_key"]
        if not bool(self.live.all()):
            frame, texts, keys = frame.filter(self.live), texts.filter(self.live), keys.filter(self.live)
        ex, c, r, w = pl.col("exposure"), pl.col("collateral_value"), pl.col("reachable_value"), pl.col("_weighted")
        # Bucket tests multiply by up to 10: Int64 while both amounts are below 2^59, else Int128.
        top_exposure = top(frame["exposure"])
        x, y = (ex, r) if max(top_exposure, top(frame["reachable_value"])) < 2**59 else (ex.cast(BIG), r.cast(BIG))
        bucket = ltv_bucket_index(x, y)
        # breach: exposure x SCALE > sum of share x max_ltv, both sides divided by the gcd of the max_ltvs.
        scale = SCALE // self.ltv_gcd
        narrow = weighted.dtype != BIG
        exceeds = ex * scale > w if narrow and top_exposure * scale < 2**63 else ex.cast(BIG) * scale > w.cast(BIG)
        exact = w * self.ltv_gcd if narrow and top(weighted) * self.ltv_gcd < 2**63 else w.cast(BIG) * self.ltv_gcd
        frame = frame.with_columns(
            ((ex > 0) & ((r == 0) | exceeds)).alias("breach"),
            exact.alias("_weighted_limit"),  # for the display max_ltv: one rounding of one exact integer
            bucket.cast(I64).alias("_bucket"),
        ).with_columns(
            *display_ltv("exposure", "collateral_value", "reachable_value", "_weighted_limit"),
            pl.min_horizontal(ex, c).alias("covered"),
        )
        per_loan = pl.concat(
            [
                texts,
                frame.select(
                    ex.cast(pl.Int64),  # strict casts: an amount past Int64 raises instead of wrapping
                    c.cast(pl.Int64),
                    pl.col("covered").cast(pl.Int64),
                    (ex - pl.col("covered")).cast(pl.Int64).alias("uncovered"),
                    r.cast(pl.Int64),
                    "coverage_ratio",
                    "ltv",
                    "max_ltv",
                    "breach",
                    *LOAN_FLAGS,
                    pl.Series("ltv_bucket", BUCKETS).gather(frame["_bucket"]),
                    keys,
                ),
            ],
            how="horizontal",
        )
        return per_loan if per_loan["loan_key"].is_sorted() else per_loan.sort("loan_key")
