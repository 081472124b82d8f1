"""The engine's tools for working by row position (valuation/coverage/fast.py): a table's keys as row
positions, scatters and gathers instead of joins, runs of a sorted frame instead of group-bys, and the
bounds that keep Int64 money exact."""

from __future__ import annotations

import polars as pl

from valuation.coverage.constants import BIG
from valuation.coverage.errors import CoverageInputError

I64 = pl.Int64
LIMIT = 2**62  # every amount and every sum of amounts below this: a sum of two never wraps Int64
# The five flags a contribution carries, packed 12 bits apart in one Int64: a bit per row, and summed
# over a loan's rows a count per flag (while no loan has 4,096 rows), read back with // and %.
FLAGS = ("stale_valuation", "no_valuation", "asset_seized", "possible_double_pledge", "registration_expiring")
FIELD = 2**12


def flag(packed: pl.Expr, name: str) -> pl.Expr:
    field: pl.Expr = packed // FIELD ** FLAGS.index(name) % FIELD
    return (field > 0).alias(name)


class NeedsInt128(Exception):
    """A bound of the Int64 pass failed: the run starts again with Int128 money (fast.compute)."""


class Keys:
    """A table's keys as row positions. State sorts every keyed table by its key at entry (and refuses null or
    repeated keys), so the keys are strictly increasing: key - offset when they are an offset plus the row
    index (as refs.key_book gives them), else a binary search (database serials with gaps)."""

    def __init__(self, keys: pl.Series) -> None:
        n = len(keys)
        self.n, self.keys = n, keys
        # Strictly increasing integers whose span is n - 1 are consecutive.
        self.offset: int | None = int(keys[0]) if n and int(keys[-1]) - int(keys[0]) == n - 1 else None

    def find(self, values: pl.Series) -> pl.Series:
        """Each value's row position, null where it is no key of the table."""
        if self.offset is not None:
            index = values - self.offset if self.offset else values
            if not len(index) or (not index.null_count() and top(-index) <= 0 and top(index) < self.n):
                return index.cast(I64)
            return pl.select(pl.when((index >= 0) & (index < self.n)).then(index)).to_series().cast(I64)
        if not self.n:
            return pl.Series(values.name, [None] * len(values), dtype=I64)
        position = self.keys.search_sorted(values, side="left").cast(I64).clip(0, self.n - 1)
        return pl.select(pl.when(self.keys.gather(position) == values).then(position)).to_series()


def sorted_by_key(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """The table in strictly increasing key order (sorted once here when it is not); null or repeated keys
    are refused: no row could be told from another."""
    keys = frame[key]
    if keys.null_count():
        raise CoverageInputError(f"{key}: null keys")
    dense = len(keys) < 2 or (int(keys[-1]) - int(keys[0]) == len(keys) - 1 and bool((keys.diff().slice(1) == 1).all()))
    if dense or bool((keys.diff().slice(1) > 0).all()):
        return frame
    frame = frame.sort(key, maintain_order=True)
    if not bool((frame[key].diff().slice(1) > 0).all()):
        raise CoverageInputError(f"{key}: a key is given to two rows")
    return frame


def small(series: pl.Series, money: pl.DataType, limit: int = LIMIT) -> pl.Series:
    """The integer series in the run's money type: in an Int64 run, every value must lie in (-limit, limit)."""
    if money == I64 and len(series) - series.null_count():
        top, bottom = series.max(), series.min()
        if int(top) >= limit or int(bottom) <= -limit:  # type: ignore[arg-type]
            raise NeedsInt128
    return series.cast(money)


def total(series: pl.Series, money: pl.DataType) -> None:
    """A column whose sum must stay below LIMIT in an Int64 run, so that every partial sum does too (and
    with them sums of no more than two such columns). An Int128 run relies on engine.check_bounds."""
    if money != I64 or not len(series) - series.null_count():
        return
    top, bottom = int(series.max()), int(series.min())  # type: ignore[arg-type]
    if bottom < 0 or (top * len(series) >= LIMIT and int(series.cast(BIG).sum()) >= LIMIT):
        raise NeedsInt128


def scatter(n: int, index: pl.Series, values: pl.Series, fill: int | bool | None) -> pl.Series:
    base = pl.Series(values.name, [fill], dtype=values.dtype).extend_constant(fill, n - 1) if n else values.clear()
    return base.scatter(index, values) if len(index) else base


def spread(n: int, index: pl.Series, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame of n rows whose row index[i] is frame's row i, the others null: one scatter, one gather."""
    position = scatter(n, index, pl.int_range(len(index), dtype=I64, eager=True), None)
    return frame.select(pl.all().gather(position))


def trues(n: int) -> pl.Series:
    return pl.Series([True], dtype=pl.Boolean).extend_constant(True, n - 1) if n else pl.Series([], dtype=pl.Boolean)


def runs(key: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """On a sorted frame: is this row the first / the last of its run of equal keys."""
    return key.ne_missing(key.shift(1)), key.ne_missing(key.shift(-1))


def run_sum(value: pl.Expr, first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """Each row's run total, from one running sum (the caller bounds the grand total)."""
    running = value.cum_sum()
    return pl.when(last).then(running).backward_fill() - pl.when(first).then(running - value).forward_fill()


def run_totals(frame: pl.DataFrame, last: str, sums: dict[str, pl.Expr], keep: list[str]) -> pl.DataFrame:
    """One row per run (its last row, `keep` columns) with each run's total of `sums`: running sums read
    at the runs' ends, less the previous end's."""
    ends = frame.select(*keep, pl.col(last), *(e.cum_sum().alias(n) for n, e in sums.items())).filter(last)
    return ends.select(*keep, *(pl.col(n) - pl.col(n).shift(1, fill_value=0) for n in sums))


def top(series: pl.Series) -> int:
    value = series.max() if len(series) else None
    return int(value) if value is not None else 0  # type: ignore[arg-type]
