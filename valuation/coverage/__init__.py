"""The coverage engine (DESIGN section 5): a pure function of Polars LazyFrames.

Nothing here imports Litestar or Piccolo, so the engine runs the same on frames read from the database,
from a folder of import files, or written out by hand in a test.
"""

from valuation.coverage.engine import CoverageResult, compute_coverage
from valuation.coverage.errors import CoverageInputError, MissingFxRates, WhatIfError
from valuation.coverage.frames import BookFrames, CoverageParams

__all__ = [
    "BookFrames",
    "CoverageInputError",
    "CoverageParams",
    "CoverageResult",
    "MissingFxRates",
    "WhatIfError",
    "compute_coverage",
]
