"""Time `collateral coverage` on the 1M-loan book, from a folder of Parquet files and from PostgreSQL.

    python bench/coverage.py [--loans 1000000] [--seed 1] [--runs 5] [--as-of 2026-11-28] [--skip-postgres]

1. The book: bench/data/book-<loans>-<seed>-parquet from bench/generate.py (made if missing, as import.py does).
2. --from: `collateral coverage --from DIR --as-of D --out bench/data/coverage-from.parquet --fx ...`, run as a
   subprocess exactly as an operator runs it, --runs times.
3. PostgreSQL: the same book imported into the database collateral_bench (DROP/CREATE, `collateral migrate`,
   `collateral import DIR`, as import.py does; skipped when the database already holds exactly that book's row
   counts), then ANALYZE (not timed; the import leaves planner statistics to autovacuum), then
   `collateral coverage --as-of D --out bench/data/coverage-postgres.parquet --fx ...`, --runs times.

Per run: the wall time of the CLI process, its peak resident memory (wait4's rusage of that one child) and the
load / engine / write seconds the CLI prints on its last line (load: reading and keying the book; engine:
compute_coverage; write: formatting and writing the export). The two exports must be identical. Prints a table
and writes bench/results/coverage.json with best and median, the load averages, the machine, the versions and
the command. Exit status 1 when a target is missed (judged on the best run; medians are reported beside).

Targets on a 2-core machine, 1M loans: --from engine <= 1.5 s and peak <= 3 GB; from PostgreSQL, load and engine
together <= 5 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "coverage.json"
# The generator's loans are 98% CNY, 1% USD, 1% HKD; other creditors' liens are in CNY on assets valued in the
# loan's currency, so the engine needs these two rates (valuation currency -> lien currency).
FX = ("USD/CNY=7.1", "HKD/CNY=0.92")
TARGETS = {
    "machine": "2 cores",
    "from_engine_seconds": 1.5,
    "from_peak_rss_mib": round(3e9 / 2**20),  # 3 GB
    "postgres_load_and_engine_seconds": 5.0,
}
_TIMES = re.compile(r"\(load ([0-9.]+) s, engine ([0-9.]+) s, write ([0-9.]+) s\)\s*$")


def _import_bench() -> ModuleType:
    """bench/import.py (a module name Python cannot import by name): its book, machine and engine helpers."""
    spec = importlib.util.spec_from_file_location("bench_import", ROOT / "bench" / "import.py")
    if spec is None or spec.loader is None:
        raise SystemExit("bench/import.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_import"] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


bi = _import_bench()


def run_coverage(args: list[str], env: dict[str, str] | None, out: Path) -> dict[str, Any]:
    cmd = [bi._collateral(), "coverage", *args, "--out", str(out.relative_to(ROOT))]
    for pair in FX:
        cmd += ["--fx", pair]
    run = bi.measured(cmd, env)
    line = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    found = _TIMES.search(line)
    figures: dict[str, Any] = {
        "exit_code": run.exit_code,
        "wall_s": run.seconds,
        "peak_rss_mib": run.peak_rss_mib,
        "cli_said": line or bi._tail(run.stderr, 5),
    }
    if found:
        figures.update(load_s=float(found[1]), engine_s=float(found[2]), write_s=float(found[3]))
    figures["load_average_1_min"] = round(os.getloadavg()[0], 2)
    return figures


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if r["exit_code"] == 0 and "engine_s" in r]
    out: dict[str, Any] = {"runs": runs, "all_ok": len(ok) == len(runs)}
    if not ok:
        return out
    for key in ("wall_s", "load_s", "engine_s", "write_s", "peak_rss_mib"):
        values = [r[key] for r in ok]
        out[key] = {"best": min(values), "median": round(statistics.median(values), 3), "worst": max(values)}
    together = [r["load_s"] + r["engine_s"] for r in ok]
    out["load_and_engine_s"] = {"best": round(min(together), 2), "median": round(statistics.median(together), 3)}
    return out


def postgres_book(book: dict[str, Any], loans: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """The bench database holding this book: imported unless it already holds exactly these row counts."""
    engine, reason = bi.make_engine("postgres", loans, seed)
    if engine is None:
        return None, {"skipped": reason}
    info: dict[str, Any] = {"database_url": engine.url}
    if engine.counts() == book["rows"]:
        info["import"] = "skipped: the database already holds this book's row counts"
    else:
        engine.fresh()
        migrate = bi.measured([bi._collateral(), "migrate"], engine.env)
        if migrate.exit_code != 0:
            return None, {**info, "error": f"migrate failed: {bi._tail(migrate.stderr)}"}
        print(f"importing {book['dir']} into PostgreSQL ...", flush=True)
        imported = bi.measured([bi._collateral(), "import", book["dir"]], engine.env)
        info["import"] = {
            "seconds": imported.seconds,
            "peak_rss_mib": imported.peak_rss_mib,
            "exit_code": imported.exit_code,
        }
        if imported.exit_code != 0 or engine.counts() != book["rows"]:
            return None, {**info, "error": f"import failed: {bi._tail(imported.stderr)}"}
    analyze = bi.measured([*bi._psql(bi.PG_DATABASE), "-c", "ANALYZE"], engine.env)
    info["analyze_seconds"] = analyze.seconds
    return engine, info


def print_table(results: dict[str, Any]) -> None:
    header = f"{'source':<11} {'figure':<17} {'best':>8} {'median':>8}  target"
    print(header)
    print("-" * len(header))
    targets = {
        ("from", "engine_s"): f"<= {TARGETS['from_engine_seconds']} s",
        ("from", "peak_rss_mib"): f"<= {TARGETS['from_peak_rss_mib']} MiB",
        ("postgres", "load_and_engine_s"): f"<= {TARGETS['postgres_load_and_engine_seconds']} s",
    }
    for source in ("from", "postgres"):
        result = results.get(source, {})
        if "wall_s" not in result:
            print(f"{source:<11} {result.get('skipped') or result.get('error') or 'failed'}")
            continue
        for key in ("wall_s", "load_s", "engine_s", "write_s", "load_and_engine_s", "peak_rss_mib"):
            target = targets.get((source, key), "")
            print(f"{source:<11} {key:<17} {result[key]['best']:>8} {result[key]['median']:>8}  {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--as-of", default="2026-11-28")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (JSON)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "bench/coverage.py", *(sys.argv[1:] if argv is None else argv)])

    machine = bi.machine()  # with the load average before the bench adds its own
    book = bi.ensure_book(args.loans, args.seed, "parquet", bad_rows=0, reuse=True)
    results: dict[str, Any] = {}

    print(f"--from {book['dir']}: {args.runs} runs ...", flush=True)
    from_out = bi.DATA / "coverage-from.parquet"
    runs = [run_coverage(["--from", book["dir"], "--as-of", args.as_of], None, from_out) for _ in range(args.runs)]
    results["from"] = summary(runs)

    pg_env = None
    if args.skip_postgres:
        results["postgres"] = {"skipped": "--skip-postgres"}
    else:
        engine, info = postgres_book(book, args.loans, args.seed)
        results["postgres"] = info
        if engine is not None:
            pg_env = engine.env
            print(f"PostgreSQL: {args.runs} runs ...", flush=True)
            pg_out = bi.DATA / "coverage-postgres.parquet"
            runs = [run_coverage(["--as-of", args.as_of], engine.env, pg_out) for _ in range(args.runs)]
            results["postgres"].update(summary(runs))
            if from_out.exists() and pg_out.exists():
                same = pl.read_parquet(from_out).equals(pl.read_parquet(pg_out))
                results["postgres"]["export_identical_to_from"] = same

    met: dict[str, bool | None] = {"from_engine": None, "from_peak_rss": None, "postgres_load_and_engine": None}
    if "engine_s" in results["from"] and results["from"]["all_ok"]:
        met["from_engine"] = results["from"]["engine_s"]["best"] <= TARGETS["from_engine_seconds"]
        met["from_peak_rss"] = results["from"]["peak_rss_mib"]["worst"] <= TARGETS["from_peak_rss_mib"]
    else:
        met["from_engine"] = met["from_peak_rss"] = False
    pg = results["postgres"]
    if "load_and_engine_s" in pg:
        met["postgres_load_and_engine"] = (
            pg["all_ok"]
            and pg.get("export_identical_to_from", False)
            and pg["load_and_engine_s"]["best"] <= TARGETS["postgres_load_and_engine_seconds"]
        )
    elif "skipped" not in pg:
        met["postgres_load_and_engine"] = False

    report = {
        "benchmark": "collateral coverage",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "versions": bi.versions(pg_env),
        "targets": TARGETS,
        "targets_met": met,
        "book": {"loans": args.loans, "seed": args.seed, "format": "parquet", **book},
        "as_of": args.as_of,
        "fx": list(FX),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print_table(results)
    print(f"targets met: {met}")
    print(f"written {args.out}")
    return 0 if all(v is not False for v in met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
