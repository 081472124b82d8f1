"""Steps 1-7 of compute_coverage (DESIGN 5) on integer keys found by position, each rule written once.

At entry the loan, asset and lien tables are sorted by key unless they already are (fast_state), so a key
is found by an offset when the keys are dense (as `refs.key_book` gives them) or by binary search (database
serials with gaps). Every join is then a gather by position and every group a run of a sorted frame.
Money is Int64 while the book's amounts keep every sum the stages form below 2^62 (checked on the book
itself as the stages go); a product that could pass Int64 is formed in Int128, and only where the book's
own maxima say it could: amount x weight in the largest-remainder splits (only for groups of two or
more: a rank with one lien takes the rank's amount, a lien with one loan passes its whole share), fx
conversions (only on converted rows), the haircut (a 0.30 haircut is x 7 // 10), stress multipliers and
share x max_ltv (max_ltv divided by the gcd of all of them). A book past those bounds runs the same
stages again with Int128 money (refusals.check_bounds proves that no Int128 product overflows).

The stages live in modules by what they do: fast_positions (keys as row positions, scatters, runs),
fast_state (the run's frames and the columns each stage leaves), fast_values (steps 1-2), fast_liens
(steps 3-4 and the refusals), fast_allocate (steps 5-6) and fast_results (step 7, contributions).
Step 2 (an asset's value) needs nothing from steps 1, 3 and the links, so it runs on a second thread
beside them: Polars releases the GIL, and most of these column operations use one core each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import polars as pl

from valuation.coverage.fast_allocate import AllocationStages
from valuation.coverage.fast_liens import LienStages
from valuation.coverage.fast_positions import NeedsInt128
from valuation.coverage.fast_results import ResultStages
from valuation.coverage.fast_values import ValueStages
from valuation.coverage.frames import BookFrames, CoverageParams

# Seconds per stage of the last run (bench/coverage_engine.py prints them). asset_values runs beside
# exposure, ranks and links, so those stages overlap in time.
TIMINGS: dict[str, float] = {}
LAST_RUN: dict[str, str] = {}  # "money": the last run's money type, Int64 or Int128
T = TypeVar("T")


class _Run(ValueStages, LienStages, AllocationStages, ResultStages):
    """One run, a stage per method; each stage leaves the columns the next ones read."""


def _timed(stage: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    TIMINGS[stage] = round(time.perf_counter() - started, 3)
    return result


def compute(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> tuple[pl.DataFrame, pl.LazyFrame]:
    """(per_loan, contributions). Money is Int64 unless a bound fails on this book; then the run starts
    over with Int128 money, through the same stages."""
    try:
        return _compute(book, params, shocks, pl.Int64())
    except NeedsInt128:
        return _compute(book, params, shocks, pl.Int128())


def _compute(
    book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None, money: pl.DataType
) -> tuple[pl.DataFrame, pl.LazyFrame]:
    TIMINGS.clear()
    run = _timed("collect", lambda: _Run(book, params, shocks, money))
    _timed("exposure", run.exposures)
    with ThreadPoolExecutor(max_workers=1) as beside:
        values = beside.submit(_timed, "asset_values", run.asset_values)
        _timed("ranks", run.ranks)
        _timed("links", run.links)
        values.result()
    _timed("claims", run.claims)
    _timed("allocate_ranks", run.allocate)
    _timed("split_to_loans", run.split)
    contributions = _timed("contributions", run.contributions)
    per_loan = _timed("per_loan", run.per_loan)
    LAST_RUN["money"] = str(money)
    return per_loan, contributions
