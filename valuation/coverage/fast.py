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

The stages live in modules by what they do: fast_positions (keys as row positions, scatters, runs),
fast_state (the run's frames and the columns each stage leaves), fast_values (steps 1-2), fast_liens
(steps 3-4, refusals, headroom), fast_allocate (steps 5-6) and fast_results (step 7, contributions).
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
from valuation.coverage.fast_state import Headroom, Refuse
from valuation.coverage.fast_values import ValueStages
from valuation.coverage.frames import BookFrames, CoverageParams

# Seconds per stage of the last narrow run (bench/coverage_engine.py prints them). asset_values runs beside
# exposure, ranks and links, so those stages overlap in time.
TIMINGS: dict[str, float] = {}
LAST_RUN: dict[str, str] = {}  # "money": the last run's money type, Int64 or Int128
T = TypeVar("T")


class _Run(ValueStages, LienStages, AllocationStages, ResultStages):
    """One narrow run, a stage per method; each stage leaves the columns the next ones read."""


def _timed(stage: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    TIMINGS[stage] = round(time.perf_counter() - started, 3)
    return result


def compute(
    book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None, refuse: Refuse, headroom: Headroom
) -> tuple[pl.DataFrame, pl.LazyFrame]:
    """(per_loan, contributions). `refuse` and `headroom` are engine.py's checks, run in engine.py's order.
    Money is Int64 unless a bound fails on this book; then the run starts over with Int128 money."""
    try:
        return _compute(book, params, shocks, refuse, headroom, pl.Int64())
    except NeedsInt128:
        return _compute(book, params, shocks, refuse, headroom, pl.Int128())


def _compute(
    book: BookFrames,
    params: CoverageParams,
    shocks: pl.LazyFrame | None,
    refuse: Refuse,
    headroom: Headroom,
    money: pl.DataType,
) -> tuple[pl.DataFrame, pl.LazyFrame]:
    TIMINGS.clear()
    run = _timed("collect", lambda: _Run(book, params, shocks, money))
    _timed("exposure", run.exposures)
    with ThreadPoolExecutor(max_workers=1) as beside:
        values = beside.submit(_timed, "asset_values", run.asset_values)
        _timed("ranks", run.ranks)
        _timed("links", run.links)
        values.result()
    _timed("claims", lambda: run.claims(refuse, headroom))
    _timed("allocate_ranks", run.allocate)
    _timed("split_to_loans", run.split)
    contributions = _timed("contributions", run.contributions)
    per_loan = _timed("per_loan", run.per_loan)
    LAST_RUN["money"] = str(money)
    return per_loan, contributions
