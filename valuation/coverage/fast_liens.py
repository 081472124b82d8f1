"""Steps 3 and 4 (valuation/coverage/fast.py): the counted liens and their ranks, the links of counted own
liens to live loans, each lien's claim, the refusals and the Int128 headroom test (refusals.py), and each
claim in its asset's valuation currency."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from valuation.coverage import fx
from valuation.coverage.constants import BIG, TERMINAL_LIEN
from valuation.coverage.fast_positions import (
    FIELD,
    FLAGS,
    I64,
    LIMIT,
    NeedsInt128,
    run_totals,
    runs,
    scatter,
    small,
    spread,
    top,
    total,
    trues,
)
from valuation.coverage.fast_state import State
from valuation.coverage.refusals import check_bounds, refuse_bad_liens


class LienStages(State):
    def ranks(self) -> None:
        """Step 3, as registry.ranking. The live liens sorted by asset; an asset with one live lien ranks
        it 1, the others are sorted by perfection time and take dense ranks (untimed ones after)."""
        liens = self.liens
        self.status = status = liens["status"]
        counted = status == "registered"
        if self.params.include_unperfected:
            counted = counted | (status == "submitted")
        first_asset, last_asset = runs(pl.col("_a"))
        alive = (
            pl.DataFrame(
                {
                    "_l": pl.int_range(self.n_liens, dtype=I64, eager=True),
                    "_a": self.lien_asset,
                    "_t": pl.select(pl.when(status == "registered").then(liens["perfected_at"])).to_series(),
                    "_c": counted,
                }
            )
            .filter(~status.is_in(TERMINAL_LIEN))
            .sort("_a", maintain_order=True)
            .with_columns((first_asset & last_asset).alias("_alone"))
        )
        self.alone = alive.filter(pl.col("_alone") & pl.col("_c")).select("_l", "_a", pl.lit(1, I64).alias("rank"))
        new_time = pl.col("_t").is_not_null() & (first_asset | pl.col("_t").ne_missing(pl.col("_t").shift(1)))
        self.together = (
            alive.filter(~pl.col("_alone"))
            .sort(["_a", "_t"], nulls_last=True, maintain_order=True)
            .with_columns(new_time.cast(I64).cum_sum().alias("_d"), new_time.cast(I64).alias("_n"))
            .with_columns(
                (
                    pl.col("_d")
                    - pl.when(first_asset).then(pl.col("_d") - pl.col("_n")).forward_fill()
                    + pl.col("_t").is_null().cast(I64)
                ).alias("rank")
            )
            .filter("_c")
            .select("_l", "_a", "rank")
        )
        self.own = liens["holder"] == "own"
        counted_liens = pl.concat([self.alone["_l"], self.together["_l"]])
        own_counted = self.own.gather(counted_liens)
        self.counted_own = scatter(
            self.n_liens, counted_liens.filter(own_counted), trues(int(own_counted.sum())), False
        )

    def links(self) -> None:
        """The links of counted own liens to live loans, in loan order (the contributions' order) and,
        through a stable sort, in lien order: one run per lien, giving step 4's secured exposure."""
        link_loan, link_lien = self.link_loan, self.link_lien
        unperfected = self.own & ~self.status.is_in(["registered", "released"])
        self.unperfected_loans = link_loan.filter(unperfected.gather(link_lien))
        by_loan = pl.DataFrame({"_o": link_loan, "_l": link_lien}).filter(
            self.counted_own.gather(link_lien) & self.live.gather(link_loan)
        )
        if not by_loan["_o"].is_sorted():
            by_loan = by_loan.sort("_o", maintain_order=True)
        self.by_loan = by_loan
        by_lien = by_loan.with_row_index("_row").sort("_l", maintain_order=True)
        first_lien, last_lien = runs(pl.col("_l"))
        self.by_lien = by_lien.with_columns(
            self.exposure.gather(by_lien["_o"]).alias("exposure"),
            (self.loan_ccy.gather(by_lien["_o"]) != self.lien_ccy.gather(by_lien["_l"])).alias("_mixed"),
            first_lien.alias("_first"),
            last_lien.alias("_last"),
        )
        ends = run_totals(
            self.by_lien, "_last", {"_secured": pl.col("exposure"), "_n_mixed": pl.col("_mixed").cast(I64)}, keep=["_l"]
        )
        per_lien = spread(self.n_liens, ends["_l"], ends.select("_secured", (pl.col("_n_mixed") > 0).alias("_mixed")))
        self.secured = per_lien["_secured"].fill_null(0)
        self.mixed = per_lien["_mixed"].fill_null(False)

    def _lien_columns(self, frame: pl.DataFrame) -> pl.DataFrame:
        at, liens = frame["_l"], self.liens
        expiring_by = self.params.as_of + timedelta(days=self.params.expiring_within_days)
        return frame.with_columns(
            self.own.gather(at).alias("own"),
            liens["cap"].gather(at).alias("_cap"),
            liens["external_claim"].gather(at).alias("_ext"),
            self.secured.gather(at).alias("_secured"),
            self.lien_ccy.gather(at).alias("_ccy"),
            *(self.asset_table[c].gather(frame["_a"]) for c in self.asset_table.columns),
        ).with_columns(
            (
                pl.col("_aflags")
                + (liens["expires_on"].gather(at) <= expiring_by).fill_null(False).cast(I64)
                * FIELD ** FLAGS.index("registration_expiring")
            ).alias("_flags"),
            pl.when(pl.col("own"))
            .then(
                pl.when(pl.col("_cap").is_null())
                .then(pl.col("_secured"))
                .otherwise(pl.min_horizontal(pl.col("_cap"), pl.col("_secured")))
            )
            .otherwise(pl.col("_ext").fill_null(0))
            .cast(self.M)
            .alias("claim"),
            pl.col("value").fill_null(0),
        )

    def claims(self) -> None:
        """Step 4's claims, the refusals and the Int128 headroom test (refusals.py), and each claim in the
        valuation currency (rounded up; Int128 only on the rows converted)."""
        alone, together = self._lien_columns(self.alone), self._lien_columns(self.together)
        checked = ["_l", "_a", "own", "has_policy", "claim", "value", "max_ltv_scaled", "_vccy", "_ccy"]
        lien_rows = pl.concat([alone.select(checked), together.select(checked)])
        refuse_bad_liens(
            self.assets["kind"].gather(lien_rows.filter(~pl.col("has_policy").fill_null(False))["_a"]),
            self.liens["lien_id"].gather(lien_rows.filter(pl.col("own") & self.mixed.gather(lien_rows["_l"]))["_l"]),
        )
        total(lien_rows["claim"], self.M)
        k, currencies = len(self.currencies), self.currencies
        needed = (
            lien_rows.filter(pl.col("_vccy").is_not_null() & (pl.col("_vccy") != pl.col("_ccy")))
            .select("_vccy", "_ccy")
            .unique()
        )
        factors = fx.factors(((currencies[a], currencies[b]) for a, b in needed.iter_rows()), self.params.fx_rates)
        nums, dens = [1] * (k * k), [1] * (k * k)
        for (a, b), (num, den) in factors.items():
            nums[currencies.index(a) * k + currencies.index(b)] = num
            dens[currencies.index(a) * k + currencies.index(b)] = den
        if self.M == I64 and max(nums + dens, default=1) >= LIMIT:
            raise NeedsInt128
        check_bounds(
            top(lien_rows["value"]),
            top(lien_rows["claim"]),
            top(self.exposure.filter(self.live)),
            top(lien_rows["max_ltv_scaled"]),
            len(lien_rows),
            factors,
        )
        table = pl.DataFrame({"fx_num": nums, "fx_den": dens}, schema={"fx_num": self.M, "fx_den": self.M})

        def in_value_currency(frame: pl.DataFrame) -> pl.DataFrame:
            pair = frame.select(pl.coalesce(pl.col("_vccy") * k + pl.col("_ccy"), pl.lit(0, pl.Int32)).cast(I64))
            frame = frame.with_columns(
                table["fx_num"].gather(pair.to_series()), table["fx_den"].gather(pair.to_series())
            )
            converted = ((frame["fx_num"] != 1) | (frame["fx_den"] != 1)).arg_true()
            claim_v = frame["claim"]
            if len(converted):
                moved = frame[converted].select(
                    (pl.col("claim").cast(BIG) * pl.col("fx_den") + pl.col("fx_num") - 1) // pl.col("fx_num")
                )
                claim_v = claim_v.scatter(converted, small(moved.to_series(), self.M))
            return frame.with_columns(claim_v.alias("claim_v"))

        self.alone, self.together = in_value_currency(alone), in_value_currency(together)
        total(pl.concat([self.alone["claim_v"], self.together["claim_v"]]), self.M)
