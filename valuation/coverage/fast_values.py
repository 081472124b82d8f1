"""Steps 1 and 2 (valuation/coverage/fast.py): each loan's exposure, and each asset's
value after haircut (and stress), its flags, max LTV and valuation currency, one row per asset."""

from __future__ import annotations

from decimal import Decimal
from math import gcd

import polars as pl

from registry.ledger_rules import BALANCE_COMPONENTS
from valuation.coverage.constants import BIG, GONE_LOAN, SCALE, SEIZED_ASSET
from valuation.coverage.errors import CoverageInputError
from valuation.coverage.fast_positions import (
    FIELD,
    FLAGS,
    I64,
    LIMIT,
    scatter,
    small,
    spread,
    total,
    trues,
)
from valuation.coverage.fast_state import State


class ValueStages(State):
    def exposures(self) -> None:
        """Step 1, Int64 when each component is below 2^60 (so the sum of four is below 2^62)."""
        loans, liens = self.loans, self.liens
        parts = [small(loans[c].fill_null(0), self.M, 2**60) for c in BALANCE_COMPONENTS]  # sum_horizontal skips nulls
        self.exposure = (parts[0] + parts[1] + parts[2] + parts[3]).alias("exposure")
        self.live = (~loans["status"].is_in(GONE_LOAN)).fill_null(False)
        total(self.exposure.filter(self.live), self.M)
        self.currencies = sorted(
            set(loans["currency"].unique().to_list())
            | set(liens["currency"].unique().to_list())
            | set(self.valuations["currency"].drop_nulls().unique().to_list())
        )
        self.money = pl.Enum(self.currencies)
        self.loan_ccy = loans["currency"].cast(self.money).to_physical().cast(pl.Int32)
        self.lien_ccy = liens["currency"].cast(self.money).to_physical().cast(pl.Int32)

    def asset_values(self) -> None:
        """Step 2 and the asset's flags, max LTV and stress multiplier: one row per asset index."""
        assets, n_assets, asset_keys = self.assets, self.n_assets, self.asset_keys
        valuations = self.valuations
        latest = _latest(
            pl.DataFrame(
                {
                    "_a": valuations["_a"],
                    "valued_on": valuations["valued_on"],
                    "market_value": valuations["market_value"],
                    "_vccy": valuations["currency"].cast(self.money).to_physical().cast(pl.Int32),
                }
            ),
            n_assets,
        )
        newest = spread(
            n_assets,
            latest["_a"],
            latest.select(
                "market_value",
                "valued_on",  # a day whose approved values are all null has no value currency either
                pl.when(pl.col("market_value").is_not_null()).then(pl.col("_vccy")).alias("_vccy"),
            ),
        )
        market, valued_on, self.value_ccy = newest["market_value"], newest["valued_on"], newest["_vccy"]
        kinds = self.policies["kind"].to_list()
        if len(set(kinds)) != len(kinds):
            twice = sorted({k for k in kinds if kinds.count(k) > 1})
            raise CoverageInputError(f"two policies for asset kind(s): {', '.join(twice)}")
        kind_enum = pl.Enum(sorted(set(kinds) | set(assets["kind"].drop_nulls().unique().to_list())))
        kind_code = assets["kind"].cast(kind_enum).to_physical().cast(I64)
        by_kind = {k: i for i, k in enumerate(kind_enum.categories.to_list())}
        haircut: list[Decimal | None] = [None] * len(by_kind)
        max_ltv: list[Decimal | None] = [None] * len(by_kind)
        reval: list[int | None] = [None] * len(by_kind)
        for row in self.policies.iter_rows(named=True):
            i = by_kind[row["kind"]]
            haircut[i], max_ltv[i], reval[i] = row["haircut"], row["max_ltv"], row["revaluation_days"]
        policy = pl.DataFrame(
            {"_h": _scaled(haircut), "_m": _scaled(max_ltv), "_r": reval}, schema={"_h": BIG, "_m": BIG, "_r": I64}
        )
        max_ltv_scaled = small(policy["_m"].gather(kind_code), self.M, 2**60)
        # share x max_ltv is summed per loan with max_ltv divided by the gcd of every max_ltv and SCALE.
        self.ltv_gcd = SCALE
        for m in policy["_m"].drop_nulls().to_list():
            self.ltv_gcd = gcd(self.ltv_gcd, m)
        self.max_ltv_reduced = max_ltv_scaled // pl.Series([self.ltv_gcd], dtype=max_ltv_scaled.dtype)
        value = _after_haircut(market, policy["_h"].to_list(), kind_code, self.M)
        if len(self.shocks):
            shocks = (
                self.shocks.with_columns(asset_keys.find(self.shocks["asset_key"]).alias("_a"))
                .drop_nulls("_a")
                .group_by("_a", maintain_order=True)
                .agg(pl.col("multiplier").first())
            )  # unknown assets: none
            scaled_multiplier = shocks.select((pl.col("multiplier") * SCALE).cast(BIG)).to_series()
            multiplier = scatter(n_assets, shocks["_a"], scaled_multiplier, None)
            value = (
                pl.DataFrame({"v": value.cast(BIG), "x": multiplier})
                .select(
                    pl.when(pl.col("x").is_null())
                    .then(pl.col("v"))
                    .otherwise(pl.col("v") * pl.col("x") // pl.lit(SCALE, BIG))
                )
                .to_series()
            )
        age = pl.select((pl.lit(self.params.as_of) - valued_on).dt.total_days()).to_series()
        stale = pl.select((valued_on.is_not_null() & (age > policy["_r"].gather(kind_code))).fill_null(False))
        double = asset_keys.find(self.double["asset_key"]).drop_nulls()
        flags = pl.DataFrame(
            {
                "stale_valuation": stale.to_series(),
                "no_valuation": market.is_null(),
                "asset_seized": assets["status"].is_in(SEIZED_ASSET),
                "possible_double_pledge": scatter(n_assets, double, trues(len(double)), False),
            }
        )
        self.asset_table = pl.DataFrame(
            {
                "has_policy": policy["_h"].gather(kind_code).is_not_null(),
                "value": small(value, self.M),  # null only without a policy: refused when such an asset counts
                "max_ltv_scaled": max_ltv_scaled,
                "_aflags": flags.select(
                    pl.sum_horizontal(pl.col(f).cast(I64) * FIELD ** FLAGS.index(f) for f in FLAGS[:4])
                ).to_series(),
                "_m": self.max_ltv_reduced,
                "_vccy": self.value_ccy,
            }
        )


def _latest(valuations: pl.DataFrame, n_assets: int) -> pl.DataFrame:
    """Per asset index `_a`, the valuation with the latest valued_on and, that day, the lowest market
    value (the first such row on a tie, as a stable sort keeps them). One single-key sort on
    (asset, day) packed into an Int64; the same-day rows, if any, are settled by a second sort of those."""
    days = valuations["valued_on"].cast(pl.Int32).cast(I64)
    low, high = (int(days.min()), int(days.max())) if len(days) and not days.null_count() else (0, 0)  # type: ignore[arg-type]
    span = high - low + 1
    if not len(days) or days.null_count() or n_assets * span >= LIMIT:
        return valuations.sort(
            ["_a", "valued_on", "market_value"], descending=[False, True, False], nulls_last=True, maintain_order=True
        ).filter(pl.col("_a").ne_missing(pl.col("_a").shift(1)))
    key = pl.col("_k")
    ordered = valuations.with_columns((pl.col("_a") * span + (high - days)).alias("_k")).sort("_k", maintain_order=True)
    newest = ordered.filter(key == pl.when(pl.col("_a").ne_missing(pl.col("_a").shift(1))).then(key).forward_fill())
    same_day = key.eq_missing(key.shift(1)) | key.eq_missing(key.shift(-1))
    if not bool(newest.select(same_day.any()).item()):
        return newest
    ties = (
        newest.filter(same_day)
        .sort(["_k", "market_value"], nulls_last=True, maintain_order=True)
        .filter(key.ne_missing(key.shift(1)))
    )
    return pl.concat([newest.filter(~same_day), ties])


def _scaled(values: list[Decimal | None]) -> list[int | None]:
    return [None if v is None else int(v * SCALE) for v in values]


def _after_haircut(
    market: pl.Series, haircuts: list[int | None], kind_code: pl.Series, money: pl.DataType
) -> pl.Series:
    """market x (SCALE - haircut) // SCALE per asset, with the fraction reduced per kind (a 0.30 haircut
    is x 7 // 10): Int64 while market x numerator stays below 2^62, else Int128. 0 without a valuation,
    null without a policy."""
    keep_num: list[int | None] = []
    keep_den: list[int] = []
    for h in haircuts:
        g = gcd(SCALE - h, SCALE) if h is not None else 1
        keep_num.append(None if h is None else (SCALE - h) // g)
        keep_den.append(SCALE // g)
    top_num = max((abs(v) for v in keep_num if v is not None), default=0)
    top_market = max(abs(int(market.max() or 0)), abs(int(market.min() or 0)))  # type: ignore[arg-type]
    dtype = I64 if money == I64 and top_num * top_market < LIMIT and max(keep_den, default=1) < LIMIT else BIG
    keep = pl.DataFrame({"n": keep_num, "d": keep_den}, schema={"n": BIG, "d": BIG})
    return (
        pl.DataFrame({"m": market, "n": keep["n"].gather(kind_code), "d": keep["d"].gather(kind_code)})
        .select(
            pl.when(pl.col("m").is_null())
            .then(pl.lit(0, dtype))
            .otherwise(pl.col("m").cast(dtype) * pl.col("n").cast(dtype) // pl.col("d").cast(dtype))
            .alias("value")
        )
        .to_series()
    )
