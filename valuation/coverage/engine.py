"""compute_coverage: DESIGN section 5, steps 1-8, as one pure function of Polars frames.

Steps 1-7 run in fast.py (stages in fast_*.py): the book collected once, its tables sorted by key if
they are not, every join a gather by row position, every group a run of a sorted frame, money in Int64
while the book's own sums stay below 2^62 and in Int128 otherwise (the same stages; refusals.py proves
the Int128 headroom). Step 8 rolls the results up lazily (rollups.py): the per-loan frame is
materialised, so collecting several roll-ups never reruns the engine, and the contributions' refs are
gathered when that frame is collected. tests/oracle/coverage_reference.py is the plain reading of
DESIGN 5 the engine is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from valuation.coverage import fast
from valuation.coverage.frames import SHOCKS, BookFrames, CoverageParams, conform
from valuation.coverage.rollups import per_asset_kind, per_borrower, per_ltv_bucket, portfolio


@dataclass(frozen=True, slots=True)
class CoverageResult:
    per_loan: pl.LazyFrame
    contributions: pl.LazyFrame
    per_borrower: pl.LazyFrame
    per_asset_kind: pl.LazyFrame
    per_ltv_bucket: pl.LazyFrame
    portfolio: pl.LazyFrame


def compute_coverage(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None = None) -> CoverageResult:
    """Coverage of every live loan as of params.as_of. `shocks` (asset_key, multiplier) scales asset
    values after the haircut and before step 5 (stress.py builds it)."""
    book = book.conformed()
    shocks = None if shocks is None else conform(shocks, SHOCKS)
    per_loan_frame, contributions = fast.compute(book, params, shocks)
    per_loan = per_loan_frame.lazy()
    return CoverageResult(  # step 8
        per_loan=per_loan,
        contributions=contributions,
        per_borrower=per_borrower(per_loan),
        per_asset_kind=per_asset_kind(contributions),
        per_ltv_bucket=per_ltv_bucket(per_loan),
        portfolio=portfolio(per_loan),
    )
