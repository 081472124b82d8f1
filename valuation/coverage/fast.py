"""The narrow path of compute_coverage: the same steps 1-7 in Int64, on integer keys found by position.

It takes a book whose loan, asset and lien keys are dense (a key is an offset plus its row's index, as
`refs.key_book` gives them) or at least strictly increasing (database serials with gaps: binary search),
and whose amounts keep every sum the engine forms below 2^62 (checked on the book itself). Then every
join is a gather by position, every group a run of a sorted frame, and money stays Int64. A product that
could pass Int64 is formed in Int128, and only where the book's own maxima say it could: amount x weight
in the largest-remainder splits (only for groups of two or more: a rank with one lien takes the rank's
amount, a lien with one loan passes its whole share), fx conversions (only on converted rows), the
haircut (a 0.30 haircut is x 7 // 10), stress multipliers and share x max_ltv (max_ltv divided by the
gcd of all of them). Any other book returns None and takes the general Int128 path (engine.py), whose
results this path reproduces exactly; tests/unit/test_coverage_paths.py compares the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from math import gcd

import polars as pl

from valuation.coverage import fx
from valuation.coverage.errors import CoverageInputError
from valuation.coverage.frames import BookFrames, CoverageParams
from valuation.coverage.rollups import BUCKETS, display_ltv
from valuation.coverage.steps import BIG, GONE_LOAN, SCALE, SEIZED_ASSET, TERMINAL_LIEN

I64 = pl.Int64
LIMIT = 2**62  # every amount and every sum of amounts below this: a sum of two never wraps Int64
MONEY_COLUMNS = ("principal", "interest", "penalty", "fees")
# The five flags a contribution carries, packed 12 bits apart in one Int64: a bit per row, and summed
# over a loan's rows a count per flag (while no loan has 4,096 rows), read back with // and %.
FLAGS = ("stale_valuation", "no_valuation", "asset_seized", "possible_double_pledge", "registration_expiring")
FIELD = 2**12


def _flag(packed: pl.Expr, name: str) -> pl.Expr:
    field: pl.Expr = packed // FIELD ** FLAGS.index(name) % FIELD
    return (field > 0).alias(name)


# Seconds per stage of the last narrow run (bench/coverage_engine.py prints them).
TIMINGS: dict[str, float] = {}


class _Wide(Exception):
    """The book needs the general Int128 path."""


Refuse = Callable[[pl.DataFrame], None]
Headroom = Callable[[int, int, int, int, int, dict[fx.Pair, tuple[int, int]]], None]


class _Keys:
    """A table's keys as row positions: key - offset when the keys are an offset plus the row index (as
    refs.key_book gives them), else a binary search when they are strictly increasing (database serials
    with gaps). Any other order sends the book to the wide path."""

    def __init__(self, keys: pl.Series) -> None:
        n = len(keys)
        if n == 0 or keys.null_count():
            raise _Wide
        self.n, self.keys = n, keys
        self.offset: int | None = int(keys[0])
        if int(keys[-1]) - int(keys[0]) != n - 1 or (n > 1 and not bool((keys.diff().slice(1) == 1).all())):
            if n > 1 and not bool((keys.diff().slice(1) > 0).all()):
                raise _Wide
            self.offset = None

    def find(self, values: pl.Series) -> pl.Series:
        """Each value's row position, null where it is no key of the table."""
        if self.offset is not None:
            index = values - self.offset if self.offset else values
            return pl.select(pl.when((index >= 0) & (index < self.n)).then(index)).to_series().cast(I64)
        position = self.keys.search_sorted(values, side="left").cast(I64).clip(0, self.n - 1)
        return pl.select(pl.when(self.keys.gather(position) == values).then(position)).to_series()

    def index(self, values: pl.Series) -> pl.Series:
        """Each value's row position; a value that is no key sends the book to the wide path (the loader
        guarantees referential integrity, so this is a precaution)."""
        if self.offset is not None:
            index = values - self.offset if self.offset else values
            if len(index) and (index.null_count() or int(index.min()) < 0  # type: ignore[arg-type]
                               or int(index.max()) >= self.n):  # type: ignore[arg-type]
                raise _Wide
            return index
        found = self.find(values)
        if found.null_count():
            raise _Wide
        return found


def _small(series: pl.Series, limit: int = LIMIT) -> pl.Series:
    """Int64 copy of an integer series whose every value lies in (-limit, limit)."""
    if len(series) - series.null_count():
        top, bottom = series.max(), series.min()
        if int(top) >= limit or int(bottom) <= -limit:  # type: ignore[arg-type]
            raise _Wide
    return series.cast(I64)


def _total(series: pl.Series) -> None:
    """A column whose (non-negative) sum must stay below LIMIT, so that every partial sum does too."""
    if not len(series) - series.null_count():
        return
    top, bottom = int(series.max()), int(series.min())  # type: ignore[arg-type]
    if bottom < 0 or (top * len(series) >= LIMIT and int(series.cast(BIG).sum()) >= LIMIT):
        raise _Wide


def _lap(stage: str) -> None:
    now = time.perf_counter()
    TIMINGS[stage] = round(now - TIMINGS.pop("_start", now), 3)
    TIMINGS["_start"] = now


def _scatter(n: int, index: pl.Series, values: pl.Series, fill: int | bool | None) -> pl.Series:
    base = pl.Series(values.name, [fill], dtype=values.dtype).extend_constant(fill, n - 1) if n else values.clear()
    return base.scatter(index, values) if len(index) else base


def _spread(n: int, index: pl.Series, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of n rows whose row index[i] is frame's row i, the others null: one scatter, one gather."""
    position = _scatter(n, index, pl.int_range(len(index), dtype=I64, eager=True), None)
    return frame.select(pl.all().gather(position))


def _trues(n: int) -> pl.Series:
    return pl.Series([True], dtype=pl.Boolean).extend_constant(True, n - 1) if n else pl.Series([], dtype=pl.Boolean)


def _runs(key: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """On a sorted frame: is this row the first / the last of its run of equal keys."""
    return key.ne_missing(key.shift(1)), key.ne_missing(key.shift(-1))


def _run_sum(value: pl.Expr, first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """Each row's run total, from one running sum (the caller bounds the grand total)."""
    running = value.cum_sum()
    return pl.when(last).then(running).backward_fill() - pl.when(first).then(running - value).forward_fill()


def _run_totals(frame: pl.DataFrame, last: str, sums: dict[str, pl.Expr], keep: list[str]) -> pl.DataFrame:
    """One row per run (its last row, `keep` columns) with each run's total of `sums`: running sums read
    at the runs' ends, less the previous end's."""
    ends = frame.select(*keep, pl.col(last), *(e.cum_sum().alias(n) for n, e in sums.items())).filter(last)
    return ends.select(*keep, *(pl.col(n) - pl.col(n).shift(1, fill_value=0) for n in sums))


def _split_runs(frame: pl.DataFrame, amount: str, weight: str, total: str,
                tie: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """registry.money.split_largest_remainder for every run of a frame at once (allocate.py's
    split_largest_remainder, on runs): `_first`/`_last` mark each group's rows, `amount` and `total` (the
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
    dtype = I64 if top < 2**63 else BIG
    product = pl.col(amount).cast(dtype) * pl.col(weight).cast(dtype)
    safe = pl.when(pl.col(total) > 0).then(pl.col(total)).otherwise(1).cast(dtype)
    parts = frame.select(
        "_first", "_last", amount, weight, total, pl.int_range(pl.len(), dtype=I64).alias("_i")).filter(~single).select(
        "_first", "_last", "_i", pl.col(amount).alias("_amount"),
        (product // safe).cast(I64).alias("_floor"), (product % safe).cast(I64).alias("_rem"),
    )
    parts = parts.with_columns(
        (pl.col("_amount") - _run_sum(pl.col("_floor"), pl.col("_first"), pl.col("_last"))).alias("_left"))
    rest = parts.filter(pl.col("_left") > 0)
    out = frame[amount].scatter(parts["_i"], parts["_floor"])
    if not len(rest):
        return out
    # Order each group by remainder; only groups where two remainders tie are ordered by `tie` as well.
    rest = rest.with_columns(pl.col("_first").cast(I64).cum_sum().alias("_g")).sort(
        ["_g", "_rem"], descending=[False, True])
    tied = rest.filter((pl.col("_g") == pl.col("_g").shift(1)) & (pl.col("_rem") == pl.col("_rem").shift(1)))["_g"]
    if len(tied):
        has_tie = rest["_g"].is_in(tied.unique().implode())
        broken = rest.filter(has_tie)
        broken = broken.with_columns(tie(broken["_i"]).alias("_tie")).sort(
            ["_g", "_rem", "_tie"], descending=[False, True, False]).drop("_tie")
        rest = pl.concat([rest.filter(~has_tie), broken])
    start, _ = _runs(pl.col("_g"))
    index = pl.int_range(pl.len(), dtype=I64)
    bumped = rest.filter(index - pl.when(start).then(index).forward_fill() < pl.col("_left"))["_i"]
    return out.scatter(bumped, out.gather(bumped) + 1)


def _latest(valuations: pl.DataFrame, n_assets: int) -> pl.DataFrame:
    """Per asset index `_a`, the valuation with the latest valued_on and, that day, the lowest market
    value (the first such row on a tie, as a stable sort keeps them). One single-key sort on
    (asset, day) packed into an Int64; the same-day rows, if any, are settled by a second sort of those."""
    days = valuations["valued_on"].cast(pl.Int32).cast(I64)
    low, high = (int(days.min()), int(days.max())) if len(days) and not days.null_count() else (0, 0)  # type: ignore[arg-type]
    span = high - low + 1
    if not len(days) or days.null_count() or n_assets * span >= LIMIT:
        return valuations.sort(["_a", "valued_on", "market_value"], descending=[False, True, False], nulls_last=True,
                               maintain_order=True).filter(pl.col("_a").ne_missing(pl.col("_a").shift(1)))
    key = pl.col("_k")
    ordered = valuations.with_columns((pl.col("_a") * span + (high - days)).alias("_k")).sort("_k", maintain_order=True)
    newest = ordered.filter(key == pl.when(pl.col("_a").ne_missing(pl.col("_a").shift(1))).then(key).forward_fill())
    same_day = key.eq_missing(key.shift(1)) | key.eq_missing(key.shift(-1))
    if not bool(newest.select(same_day.any()).item()):
        return newest
    ties = newest.filter(same_day).sort(["_k", "market_value"], nulls_last=True, maintain_order=True).filter(
        key.ne_missing(key.shift(1)))
    return pl.concat([newest.filter(~same_day), ties])


def _scaled(values: list[Decimal | None]) -> list[int | None]:
    return [None if v is None else int(v * SCALE) for v in values]


def compute(
    book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None, refuse: Refuse, headroom: Headroom
) -> tuple[pl.DataFrame, pl.LazyFrame] | None:
    """(per_loan, contributions) as engine.py would give them, or None when the book needs the wide
    path. `refuse` and `headroom` are engine.py's checks, run in engine.py's order."""
    TIMINGS.clear()
    TIMINGS["_start"] = time.perf_counter()
    try:
        run = _Run(book, params, shocks)
        _lap("collect")
        run.exposures()
        _lap("exposure")
        run.asset_values()
        _lap("asset_values")
        run.ranks()
        _lap("ranks")
        run.links()
        _lap("links")
        run.claims(refuse, headroom)
        _lap("claims")
        run.allocate()
        _lap("allocate_ranks")
        run.split()
        _lap("split_to_loans")
        contributions = run.contributions()
        _lap("contributions")
        per_loan = run.per_loan()
        _lap("per_loan")
    except _Wide:
        return None
    TIMINGS.pop("_start", None)
    return per_loan, contributions


class _Run:
    """One narrow run, a stage per method; each stage leaves the columns the next ones read."""

    def __init__(self, book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> None:
        no_shocks = pl.LazyFrame(schema={"asset_key": I64, "multiplier": pl.Decimal(38, 12)})
        approved = book.valuations.filter((pl.col("status") == "approved") & (pl.col("valued_on") <= params.as_of))
        (self.loans, self.assets, self.liens, self.lien_loans, self.valuations, self.policies, self.double,
         self.shocks) = pl.collect_all([
            book.loans, book.assets, book.liens, book.lien_loans,
            approved.select("asset_key", "valued_on", "market_value", "currency"),
            book.policies, book.double_pledge_assets, no_shocks if shocks is None else shocks])
        self.params = params
        self.loan_keys = _Keys(self.loans["loan_key"])
        self.asset_keys = _Keys(self.assets["asset_key"])
        self.lien_keys = _Keys(self.liens["lien_key"])
        self.n_loans, self.n_assets, self.n_liens = len(self.loans), len(self.assets), len(self.liens)
        # Nulls the wide path reads in ways not worth copying here: it takes those books.
        if (self.assets["status"].null_count() or self.loans["currency"].null_count()
                or self.liens["currency"].null_count() or self.policies["kind"].null_count()
                or self.policies["max_ltv"].null_count()):
            raise _Wide

    def exposures(self) -> None:
        """Step 1, Int64 when each component is below 2^60 (so the sum of four is below 2^62)."""
        loans, liens = self.loans, self.liens
        parts = [_small(loans[c].fill_null(0), 2**60) for c in MONEY_COLUMNS]  # sum_horizontal skips nulls
        self.exposure = (parts[0] + parts[1] + parts[2] + parts[3]).alias("exposure")
        self.live = (~loans["status"].is_in(GONE_LOAN)).fill_null(False)
        _total(self.exposure.filter(self.live))
        self.currencies = sorted(
            set(loans["currency"].unique().to_list()) | set(liens["currency"].unique().to_list())
            | set(self.valuations["currency"].drop_nulls().unique().to_list()))
        self.money = pl.Enum(self.currencies)
        self.loan_ccy = loans["currency"].cast(self.money).to_physical().cast(pl.Int32)
        self.lien_ccy = liens["currency"].cast(self.money).to_physical().cast(pl.Int32)

    def asset_values(self) -> None:
        """Step 2 and the asset's flags, max LTV and stress multiplier: one row per asset index."""
        assets, n_assets, asset_keys = self.assets, self.n_assets, self.asset_keys
        valuations = self.valuations
        latest = _latest(pl.DataFrame({
            "_a": asset_keys.index(valuations["asset_key"]), "valued_on": valuations["valued_on"],
            "market_value": valuations["market_value"],
            "_vccy": valuations["currency"].cast(self.money).to_physical().cast(pl.Int32),
        }), n_assets)
        newest = _spread(n_assets, latest["_a"], latest.select(
            "market_value", "valued_on",  # a day whose approved values are all null has no value currency either
            pl.when(pl.col("market_value").is_not_null()).then(pl.col("_vccy")).alias("_vccy")))
        market, valued_on, self.value_ccy = newest["market_value"], newest["valued_on"], newest["_vccy"]
        kinds = self.policies["kind"].to_list()
        if len(set(kinds)) != len(kinds):
            raise _Wide  # two policies for one kind: the wide path's join decides
        kind_enum = pl.Enum(sorted(set(kinds) | set(assets["kind"].drop_nulls().unique().to_list())))
        kind_code = assets["kind"].cast(kind_enum).to_physical().cast(I64)
        by_kind = {k: i for i, k in enumerate(kind_enum.categories.to_list())}
        haircut: list[Decimal | None] = [None] * len(by_kind)
        max_ltv: list[Decimal | None] = [None] * len(by_kind)
        reval: list[int | None] = [None] * len(by_kind)
        for row in self.policies.iter_rows(named=True):
            i = by_kind[row["kind"]]
            haircut[i], max_ltv[i], reval[i] = row["haircut"], row["max_ltv"], row["revaluation_days"]
        policy = pl.DataFrame({"_h": _scaled(haircut), "_m": _scaled(max_ltv), "_r": reval},
                              schema={"_h": BIG, "_m": BIG, "_r": I64})
        max_ltv_scaled = _small(policy["_m"].gather(kind_code), 2**60)
        # share x max_ltv is summed per loan with max_ltv divided by the gcd of every max_ltv and SCALE.
        self.ltv_gcd = SCALE
        for m in policy["_m"].drop_nulls().to_list():
            self.ltv_gcd = gcd(self.ltv_gcd, m)
        self.max_ltv_reduced = max_ltv_scaled // self.ltv_gcd
        value = _after_haircut(market, policy["_h"].to_list(), kind_code)
        if len(self.shocks):
            shocks = self.shocks.with_columns(asset_keys.find(self.shocks["asset_key"]).alias("_a")).drop_nulls(
                "_a").group_by("_a", maintain_order=True).agg(pl.col("multiplier").first())  # unknown assets: none
            scaled_multiplier = shocks.select((pl.col("multiplier") * SCALE).cast(BIG)).to_series()
            multiplier = _scatter(n_assets, shocks["_a"], scaled_multiplier, None)
            value = pl.DataFrame({"v": value.cast(BIG), "x": multiplier}).select(
                pl.when(pl.col("x").is_null()).then(pl.col("v"))
                .otherwise(pl.col("v") * pl.col("x") // pl.lit(SCALE, BIG))
            ).to_series()
        age = pl.select((pl.lit(self.params.as_of) - valued_on).dt.total_days()).to_series()
        stale = pl.select((valued_on.is_not_null() & (age > policy["_r"].gather(kind_code))).fill_null(False))
        double = asset_keys.find(self.double["asset_key"]).drop_nulls()
        flags = pl.DataFrame({
            "stale_valuation": stale.to_series(),
            "no_valuation": market.is_null(),
            "asset_seized": assets["status"].is_in(SEIZED_ASSET),
            "possible_double_pledge": _scatter(n_assets, double, _trues(len(double)), False),
        })
        self.asset_table = pl.DataFrame({
            "has_policy": policy["_h"].gather(kind_code).is_not_null(),
            "value": _small(value),  # null only without a policy: refused when such an asset counts
            "max_ltv_scaled": max_ltv_scaled,
            "_aflags": flags.select(pl.sum_horizontal(pl.col(f).cast(I64) * FIELD ** FLAGS.index(f)
                                                      for f in FLAGS[:4])).to_series(),
            "_m": self.max_ltv_reduced,
            "_vccy": self.value_ccy,
        })

    def ranks(self) -> None:
        """Step 3, as registry.ranking. The live liens sorted by asset; an asset with one live lien ranks
        it 1, the others are sorted by perfection time and take dense ranks (untimed ones after)."""
        liens = self.liens
        self.status = status = liens["status"]
        counted = status == "registered"
        if self.params.include_unperfected:
            counted = counted | (status == "submitted")
        first_asset, last_asset = _runs(pl.col("_a"))
        alive = (
            pl.DataFrame({
                "_l": pl.int_range(self.n_liens, dtype=I64, eager=True),
                "_a": self.asset_keys.index(liens["asset_key"]),
                "_t": pl.select(pl.when(status == "registered").then(liens["perfected_at"])).to_series(),
                "_c": counted,
            })
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
                (pl.col("_d") - pl.when(first_asset).then(pl.col("_d") - pl.col("_n")).forward_fill()
                 + pl.col("_t").is_null().cast(I64)).alias("rank")
            )
            .filter("_c")
            .select("_l", "_a", "rank")
        )
        self.own = liens["holder"] == "own"
        counted_liens = pl.concat([self.alone["_l"], self.together["_l"]])
        own_counted = self.own.gather(counted_liens)
        self.counted_own = _scatter(self.n_liens, counted_liens.filter(own_counted), _trues(int(own_counted.sum())),
                                    False)

    def links(self) -> None:
        """The links of counted own liens to live loans, in loan order (the contributions' order) and,
        through a stable sort, in lien order: one run per lien, giving step 4's secured exposure."""
        link_loan = self.loan_keys.index(self.lien_loans["loan_key"])
        link_lien = self.lien_keys.index(self.lien_loans["lien_key"])
        unperfected = self.own & ~self.status.is_in(["registered", "released"])
        self.unperfected_loans = link_loan.filter(unperfected.gather(link_lien))
        by_loan = pl.DataFrame({"_o": link_loan, "_l": link_lien}).filter(
            self.counted_own.gather(link_lien) & self.live.gather(link_loan))
        if not by_loan["_o"].is_sorted():
            by_loan = by_loan.sort("_o", maintain_order=True)
        self.by_loan = by_loan
        by_lien = by_loan.with_row_index("_row").sort("_l", maintain_order=True)
        first_lien, last_lien = _runs(pl.col("_l"))
        self.by_lien = by_lien.with_columns(
            self.exposure.gather(by_lien["_o"]).alias("exposure"),
            (self.loan_ccy.gather(by_lien["_o"]) != self.lien_ccy.gather(by_lien["_l"])).alias("_mixed"),
            first_lien.alias("_first"), last_lien.alias("_last"),
        )
        ends = _run_totals(self.by_lien, "_last",
                           {"_secured": pl.col("exposure"), "_n_mixed": pl.col("_mixed").cast(I64)}, keep=["_l"])
        per_lien = _spread(self.n_liens, ends["_l"],
                           ends.select("_secured", (pl.col("_n_mixed") > 0).alias("_mixed")))
        self.secured = per_lien["_secured"].fill_null(0)
        self.mixed = per_lien["_mixed"].fill_null(False)
        self.has_loans = per_lien["_mixed"].is_not_null()

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
            (pl.col("_aflags") + (liens["expires_on"].gather(at) <= expiring_by).fill_null(False).cast(I64)
             * FIELD ** FLAGS.index("registration_expiring")).alias("_flags"),
            pl.when(pl.col("own"))
            .then(pl.when(pl.col("_cap").is_null()).then(pl.col("_secured"))
                  .otherwise(pl.min_horizontal(pl.col("_cap"), pl.col("_secured"))))
            .otherwise(pl.col("_ext").fill_null(0)).alias("claim"),
            pl.col("value").fill_null(0),
        )

    def claims(self, refuse: Refuse, headroom: Headroom) -> None:
        """Step 4's claims, engine.py's refusals and headroom test, and each claim in the valuation
        currency (rounded up; Int128 only on the rows converted)."""
        alone, together = self._lien_columns(self.alone), self._lien_columns(self.together)
        checked = ["_l", "_a", "own", "has_policy", "claim", "value", "max_ltv_scaled", "_vccy", "_ccy"]
        lien_rows = pl.concat([alone.select(checked), together.select(checked)])
        _refuse(refuse, lien_rows, self.liens, self.mixed, self.has_loans, self.assets)
        _total(lien_rows["claim"])
        k, currencies = len(self.currencies), self.currencies
        needed = lien_rows.filter(pl.col("_vccy").is_not_null() & (pl.col("_vccy") != pl.col("_ccy"))).select(
            "_vccy", "_ccy").unique()
        factors = fx.factors(((currencies[a], currencies[b]) for a, b in needed.iter_rows()),
                             self.params.fx_rates)
        nums, dens = [1] * (k * k), [1] * (k * k)
        for (a, b), (num, den) in factors.items():
            nums[currencies.index(a) * k + currencies.index(b)] = num
            dens[currencies.index(a) * k + currencies.index(b)] = den
        if max(nums + dens) >= LIMIT:
            raise _Wide
        headroom(_top(lien_rows["value"]), _top(lien_rows["claim"]), _top(self.exposure.filter(self.live)),
                 _top(lien_rows["max_ltv_scaled"]), len(lien_rows), factors)
        table = pl.DataFrame({"fx_num": nums, "fx_den": dens}, schema={"fx_num": I64, "fx_den": I64})

        def in_value_currency(frame: pl.DataFrame) -> pl.DataFrame:
            pair = frame.select(pl.coalesce(pl.col("_vccy") * k + pl.col("_ccy"), pl.lit(0, pl.Int32)).cast(I64))
            frame = frame.with_columns(table["fx_num"].gather(pair.to_series()),
                                       table["fx_den"].gather(pair.to_series()))
            converted = ((frame["fx_num"] != 1) | (frame["fx_den"] != 1)).arg_true()
            claim_v = frame["claim"]
            if len(converted):
                moved = frame[converted].select(
                    (pl.col("claim").cast(BIG) * pl.col("fx_den") + pl.col("fx_num") - 1) // pl.col("fx_num"))
                claim_v = claim_v.scatter(converted, _small(moved.to_series()))
            return frame.with_columns(claim_v.alias("claim_v"))

        self.alone, self.together = in_value_currency(alone), in_value_currency(together)
        _total(pl.concat([self.alone["claim_v"], self.together["claim_v"]]))

    def allocate(self) -> None:
        """Step 5. An asset with one live lien: it takes min(value, claim). The others, sorted by (asset,
        rank): running sums give each rank's claim and what the ranks ahead claimed; a rank of several
        liens splits what it takes. Then each own lien's share back in its currency."""
        alone = self.alone.with_columns(
            pl.min_horizontal("value", "claim_v").alias("lien_share_v"), pl.lit(0, I64).alias("ahead"))
        first_asset, _ = _runs(pl.col("_a"))
        first_rank = first_asset | pl.col("rank").ne_missing(pl.col("rank").shift(1))
        before = pl.col("_through") - pl.col("claim_v")
        together = self.together.with_columns(
            first_rank.alias("_first"), first_rank.shift(-1, fill_value=True).alias("_last"),
            pl.col("claim_v").cum_sum().alias("_through"),
        ).with_columns(
            _run_sum(pl.col("claim_v"), pl.col("_first"), pl.col("_last")).alias("rank_claim"),
            (pl.when(pl.col("_first")).then(before).forward_fill()
             - pl.when(first_asset).then(before).forward_fill()).alias("_before"),
        ).with_columns(
            pl.max_horizontal(pl.col("value") - pl.col("_before"), pl.lit(0, I64)).alias("_remaining"),
        ).with_columns(
            pl.min_horizontal("_remaining", "rank_claim").alias("rank_takes"),
            (pl.col("value") - pl.col("_remaining")).alias("ahead"),
        )
        lien_ids = self.liens["lien_id"]
        shares = _split_runs(together, "rank_takes", "claim_v", "rank_claim",
                             lambda rows: lien_ids.gather(together["_l"].gather(rows)))
        together = together.with_columns(shares.alias("lien_share_v"))
        columns = ["_l", "_a", "rank", "own", "claim", "value", "ahead", "claim_v", "lien_share_v", "fx_num",
                   "fx_den", "_m", "_flags"]
        lien_rows = pl.concat([alone.select(columns), together.select(columns)]).filter("own")
        # Back in the lien's currency, rounded down and never above the claim (Int128 on converted rows).
        converted = ((lien_rows["fx_num"] != 1) | (lien_rows["fx_den"] != 1)).arg_true()
        share = lien_rows["lien_share_v"]
        if len(converted):
            back = lien_rows[converted].select(pl.min_horizontal(
                pl.col("lien_share_v").cast(BIG) * pl.col("fx_num") // pl.col("fx_den"), pl.col("claim").cast(BIG)))
            share = share.scatter(converted, back.to_series().cast(I64))
        self.lien_rows = lien_rows.with_columns(share.alias("lien_share"))
        self.at_lien = _scatter(self.n_liens, lien_rows["_l"], pl.int_range(len(lien_rows), dtype=I64, eager=True),
                                None)

    def split(self) -> None:
        """Step 6: a lien with one loan passes its share whole; the others split it pro rata to exposure."""
        by_lien = self.by_lien.with_columns(
            self.lien_rows["lien_share"].gather(self.at_lien.gather(self.by_lien["_l"])).alias("lien_share"),
            self.secured.gather(self.by_lien["_l"]).alias("_secured"))
        loan_ids = self.loans["loan_id"]
        shares = _split_runs(by_lien, "lien_share", "exposure", "_secured",
                             lambda rows: loan_ids.gather(by_lien["_o"].gather(rows)))
        self.loan_share = _scatter(len(self.by_loan), by_lien["_row"], shares, 0)

    def contributions(self) -> pl.LazyFrame:
        """The contributions, in loan order, with the lien's and the asset's columns gathered on. The refs
        are gathered when the frame is collected, and only the ones a caller selects."""
        rows, lien_of, loan_share = self.by_loan["_o"], self.by_loan["_l"], self.loan_share
        picked = self.lien_rows.select(
            "_a", "rank", "value", "ahead", "claim_v", "lien_share_v", "_m", "_flags")[self.at_lien.gather(lien_of)]
        total_share = int(loan_share.sum())  # below LIMIT: the shares of a lien's loans add up to its share
        reduced = I64 if _top(self.max_ltv_reduced) * total_share < LIMIT else BIG
        self.numbers = pl.DataFrame({
            "_o": rows, "_l": lien_of, "_a": picked["_a"],
            "loan_key": self.loans["loan_key"].gather(rows),
            "rank": picked["rank"],
            "asset_value_after_haircut": picked["value"],
            "prior_ranks_took": picked["ahead"],
            "lien_claim": picked["claim_v"],
            "lien_share": picked["lien_share_v"],
            "loan_share": loan_share,
            "_flags": picked["_flags"],
            "_weighted": loan_share.cast(reduced) * picked["_m"].cast(reduced),
        })
        loans, assets, liens = self.loans, self.assets, self.liens

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
            pl.lit(pl.Series(self.currencies, dtype=pl.String)).gather(pl.lit(self.value_ccy).gather(pl.col("_a")))
            .alias("value_currency"),
            "asset_value_after_haircut", "prior_ranks_took", "lien_claim", "lien_share", "loan_share",
            *(_flag(pl.col("_flags"), f) for f in FLAGS),
        )

    def per_loan(self) -> pl.DataFrame:
        """Step 7: per loan, over the loan's run of contributions."""
        _, last_loan = _runs(pl.col("loan_key"))
        numbers = self.numbers.with_columns(last_loan.alias("_last"))
        per_run = _run_totals(numbers, "_last", {
            "collateral_value": pl.col("loan_share"), "_weighted": pl.col("_weighted"), "_flags": pl.col("_flags"),
            "_rows": pl.lit(1, I64)}, keep=["_o"])
        if len(per_run) and _top(per_run["_rows"]) >= FIELD:  # a flag's count could spill into the next field
            counts = _run_totals(numbers, "_last", {f: _flag(pl.col("_flags"), f).cast(I64) for f in FLAGS}, keep=[])
            per_run = per_run.with_columns(
                pl.sum_horizontal((counts[f] > 0).cast(I64) * FIELD ** FLAGS.index(f) for f in FLAGS).alias("_flags"))
        runs = _spread(self.n_loans, per_run["_o"], per_run.select(
            pl.col("collateral_value"), pl.col("_weighted"), *(_flag(pl.col("_flags"), f) for f in FLAGS)))
        weighted = runs["_weighted"].fill_null(0)
        frame = pl.DataFrame({
            "exposure": self.exposure, "collateral_value": runs["collateral_value"].fill_null(0),
            "_weighted": weighted, **{f: runs[f].fill_null(False) for f in FLAGS},
            "unperfected": _scatter(self.n_loans, self.unperfected_loans, _trues(len(self.unperfected_loans)),
                                    False),
        })
        texts = self.loans.select("loan_id", "borrower_id", "currency")
        keys = self.loans["loan_key"]
        if not bool(self.live.all()):
            frame, texts, keys = frame.filter(self.live), texts.filter(self.live), keys.filter(self.live)
        ex, c, w = pl.col("exposure"), pl.col("collateral_value"), pl.col("_weighted")
        # Bucket tests multiply by up to 10: Int64 while both amounts are below 2^59, else Int128.
        top_exposure = _top(frame["exposure"])
        x, y = (ex, c) if max(top_exposure, _top(frame["collateral_value"])) < 2**59 else (ex.cast(BIG), c.cast(BIG))
        bucket = (
            pl.when(y == 0).then(5).when(x * 2 <= y).then(0).when(x * 10 <= y * 7).then(1)
            .when(x * 10 <= y * 9).then(2).when(x <= y).then(3).otherwise(4)
        )
        # breach: exposure x SCALE > sum of share x max_ltv, both sides divided by the gcd of the max_ltvs.
        scale = SCALE // self.ltv_gcd
        narrow = weighted.dtype != BIG
        exceeds = ex * scale > w if narrow and top_exposure * scale < 2**63 else ex.cast(BIG) * scale > w.cast(BIG)
        exact = w * self.ltv_gcd if narrow and _top(weighted) * self.ltv_gcd < 2**63 else w.cast(BIG) * self.ltv_gcd
        frame = frame.with_columns(
            ((ex > 0) & ((c == 0) | exceeds)).alias("breach"),
            exact.alias("_weighted_limit"),  # for the display max_ltv: the same float as the wide path's
            bucket.cast(I64).alias("_bucket"),
        ).with_columns(
            *display_ltv("exposure", "collateral_value", "_weighted_limit"),
            pl.min_horizontal(ex, c).alias("covered"),
        )
        per_loan = pl.concat([texts, frame.select(
            ex, c, "covered", (ex - pl.col("covered")).alias("uncovered"), "coverage_ratio", "ltv", "max_ltv",
            "breach", "stale_valuation", "no_valuation", "unperfected", "registration_expiring", "asset_seized",
            "possible_double_pledge", pl.Series("ltv_bucket", BUCKETS).gather(frame["_bucket"]), keys,
        )], how="horizontal")
        return per_loan if per_loan["loan_key"].is_sorted() else per_loan.sort("loan_key")


def _after_haircut(market: pl.Series, haircuts: list[int | None], kind_code: pl.Series) -> pl.Series:
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
    dtype = I64 if top_num * top_market < LIMIT and max(keep_den, default=1) < LIMIT else BIG
    keep = pl.DataFrame({"n": keep_num, "d": keep_den}, schema={"n": BIG, "d": BIG})
    return pl.DataFrame({"m": market, "n": keep["n"].gather(kind_code), "d": keep["d"].gather(kind_code)}).select(
        pl.when(pl.col("m").is_null()).then(pl.lit(0, dtype))
        .otherwise(pl.col("m").cast(dtype) * pl.col("n").cast(dtype) // pl.col("d").cast(dtype)).alias("value")
    ).to_series()


def _top(series: pl.Series) -> int:
    value = series.max() if len(series) else None
    return int(value) if value is not None else 0  # type: ignore[arg-type]


def _refuse(refuse: Refuse, lien_rows: pl.DataFrame, liens: pl.DataFrame, mixed: pl.Series, has_loans: pl.Series,
            assets: pl.DataFrame) -> None:
    """engine.py's refusals (no policy for a counted lien's kind; an own lien's loans in another
    currency), on the few columns they read."""
    bad = lien_rows.filter(~pl.col("has_policy").fill_null(False) | (pl.col("own") & mixed.gather(lien_rows["_l"])))
    if not len(bad):
        return
    refuse(pl.DataFrame({
        "has_policy": bad["has_policy"],
        "kind": assets["kind"].gather(bad["_a"]),
        "own": bad["own"],
        "loan_currency_min": pl.select(pl.when(has_loans.gather(bad["_l"]) & mixed.gather(bad["_l"]))
                                       .then(pl.lit("\x00mixed")).otherwise(liens["currency"].gather(bad["_l"])))
        .to_series(),
        "loan_currency_max": liens["currency"].gather(bad["_l"]),
        "currency": liens["currency"].gather(bad["_l"]),
        "lien_id": liens["lien_id"].gather(bad["_l"]),
    }))
    raise CoverageInputError("refused")  # unreachable: refuse raised on these rows
