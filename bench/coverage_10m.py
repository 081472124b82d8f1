"""`collateral coverage --from` on a 10M-loan book against the same command on the 1M-loan book (issue 11, 6).

    python bench/coverage_10m.py [--loans 10000000] [--base 1000000] [--seed 1] [--runs 2] [--keep-data]

The books: bench/data/book-<n>-<seed>-parquet-typed from bench/generate.py --typed (made if missing; the 10M book
takes about 10 GB of disk and as much memory to generate). Per run, alternately, the 1M and the 10M command as an
operator runs it (a subprocess, timed by bench/import.py's `measured`: wall time and wait4's peak resident memory
of that one child), the load average before each. The 10M book is past the CLI's --loans-per-batch (default
2,000,000), so it is computed in batches of whole components. Prints and writes bench/results/coverage-10m.json:
per size best/median wall and peak RSS, the ratio of the 10M to the 1M median wall time, and the targets (peak
<= 10 GiB, ratio <= 12). Unless --keep-data, the generated books and exports are deleted at the end (disk).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scripts

bc = bench_scripts.load("coverage.py", "bench_coverage")

RESULTS = bc.ROOT / "bench" / "results" / "coverage-10m.json"
TARGETS = {"peak_rss_gib": 10.0, "ratio_to_1m": 12.0}


def _stats(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [r[key] for r in runs if r["exit_code"] == 0]
    if not values:
        return {}
    return {"best": min(values), "median": round(statistics.median(values), 3), "worst": max(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=10_000_000)
    parser.add_argument("--base", type=int, default=1_000_000, help="the book the ratio is taken against")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--as-of", default="2026-11-28")
    parser.add_argument("--keep-data", action="store_true", help="keep the generated books")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = shlex.join(["python", "bench/coverage_10m.py", *(sys.argv[1:] if argv is None else argv)])
    machine = bc.bi.machine()

    books = {n: bc.typed_book(n, args.seed) for n in (args.base, args.loans)}
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in books}
    for i in range(args.runs):
        for n, book in books.items():
            out = bc.bi.DATA / f"coverage-{n}.parquet"
            figures = bc.run_coverage(["--from", book["dir"], "--as-of", args.as_of], None, out)
            figures["load_average_before"] = round(os.getloadavg()[0], 2)
            runs[n].append(figures)
            print(
                f"run {i + 1} {n:>10,} loans: {figures['wall_s']:7.2f} s  {figures['peak_rss_mib']:8,} MiB peak  "
                f"(exit {figures['exit_code']}, load {figures['load_average_1_min']})",
                flush=True,
            )

    sizes = {
        str(n): {
            "book": books[n],
            "runs": runs[n],
            "wall_s": _stats(runs[n], "wall_s"),
            "peak_rss_mib": _stats(runs[n], "peak_rss_mib"),
        }
        for n in books
    }
    big, base = sizes[str(args.loans)], sizes[str(args.base)]
    ok = bool(big["wall_s"]) and bool(base["wall_s"])
    ratio = round(big["wall_s"]["median"] / base["wall_s"]["median"], 2) if ok else None
    peak_gib = round(big["peak_rss_mib"]["worst"] / 1024, 2) if ok else None
    results = {
        "benchmark": "collateral coverage --from, 10M loans against 1M",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "sizes": sizes,
        "ratio_median_wall_10m_over_1m": ratio,
        "peak_rss_gib_10m_worst": peak_gib,
        "targets": TARGETS,
        "met": {
            "peak_rss": ok and peak_gib is not None and peak_gib <= TARGETS["peak_rss_gib"],
            "ratio": ok and ratio is not None and ratio <= TARGETS["ratio_to_1m"],
        },
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"10M/1M median wall: {ratio} (target <= {TARGETS['ratio_to_1m']}); "
        f"10M peak RSS {peak_gib} GiB (target <= {TARGETS['peak_rss_gib']}); written to {args.out}"
    )
    if not args.keep_data:
        for n, book in books.items():
            shutil.rmtree(bc.ROOT / book["dir"], ignore_errors=True)
            (bc.bi.DATA / f"coverage-{n}.parquet").unlink(missing_ok=True)
    return 0 if all(results["met"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
