"""Coverage engine on a generated Parquet book: engine time (after loading and keying) and peak RSS.

engine_s: compute_coverage plus collecting the portfolio roll-up; engine_and_all_outputs_s: the same with
all six outputs collected. stages_s_best: the engine's stage timings (valuation.coverage.fast), money: the
run's money type (Int64 unless the book's amounts need Int128).
The machine may be shared: the load averages at start and end are recorded with the figures.

.venv/bin/python bench/coverage_engine.py bench/data/book-1000000-1-parquet
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from valuation.coverage import CoverageParams, compute_coverage, fast
from valuation.coverage.refs import key_book, parse_text_book

FILES = ("loans", "assets", "valuations", "policies", "liens", "lien_loans")
RUNS = 7
TO_CNY = {"CNY": Decimal(1), "USD": Decimal("7.1"), "HKD": Decimal("0.92")}


def main(folder: str) -> None:
    start = time.perf_counter()
    refs = parse_text_book(**{name: pl.scan_parquet(f"{folder}/{name}.parquet") for name in FILES})
    book = key_book(refs)
    book = type(book)(**{f: getattr(book, f).collect().lazy() for f in book.__slots__})  # loaded, keyed
    loaded = time.perf_counter() - start
    rates = {(a, b): (TO_CNY[a] / TO_CNY[b]).quantize(Decimal("1e-8")) for a in TO_CNY for b in TO_CNY if a != b}
    load_at_start = os.getloadavg()
    runs, with_outputs, stages = [], [], []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        result = compute_coverage(book, CoverageParams(as_of=date(2026, 11, 1), fx_rates=rates))
        portfolio = result.portfolio.collect()
        runs.append(time.perf_counter() - t0)
        stages.append(dict(fast.TIMINGS))
        # The same again, now collecting all six outputs (contributions' refs are gathered on collect).
        t0 = time.perf_counter()
        result = compute_coverage(book, CoverageParams(as_of=date(2026, 11, 1), fx_rates=rates))
        pl.collect_all(
            [
                result.per_loan,
                result.contributions,
                result.per_borrower,
                result.per_asset_kind,
                result.per_ltv_bucket,
                result.portfolio,
            ]
        )
        with_outputs.append(time.perf_counter() - t0)
    figures = {
        "book": folder,
        "loans": result.per_loan.select(pl.len()).collect().item(),
        "money": fast.LAST_RUN.get("money"),
        "load_and_key_s": round(loaded, 2),
        "engine_s_runs": [round(r, 2) for r in runs],
        "engine_s_best": round(min(runs), 2),
        "engine_s_median": round(statistics.median(runs), 2),
        "engine_and_all_outputs_s_runs": [round(r, 2) for r in with_outputs],
        "engine_and_all_outputs_s_best": round(min(with_outputs), 2),
        "engine_and_all_outputs_s_median": round(statistics.median(with_outputs), 2),
        "stages_s_best": {k: min(s[k] for s in stages) for k in stages[-1]} if stages[-1] else {},
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "polars": pl.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "portfolio": portfolio.select("currency", "loans", "exposure", "collateral_value").rows(),
    }
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/coverage_engine.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/data/book-1000000-1-parquet")
