"""Time `collateral import DIR` on a generated book, into PostgreSQL and into SQLite, against a plain COPY peer.

    python bench/import.py [--loans 1000000] [--seed 1] [--engines postgres,sqlite] [--format parquet|csv] [--typed]
                           [--runs 1] [--reuse]

For each engine, `--runs` times: on PostgreSQL first the peer (bench/copy_peer.py: the same files COPYed into
bare text tables of a fresh database), then a fresh database (PostgreSQL: DROP/CREATE DATABASE
collateral_bench_import; SQLite: a new file under bench/data/), `collateral migrate` (not counted) and the timed
import of the book into it with `--timings` (the per-step profile: per file, per table, per index). The ratio is
the median import over the median peer. Then, on the last import's database:

1. import    the book into the empty database (the runs above);
2. reimport  the same files again (idempotent: nothing may change);
3. refused   a copy of the book with one corrupted row (`generate.py --bad-rows 1`): time until the CLI refuses,
             which must be a non-zero exit naming the corrupted row, with the database left as it was.

Each run records wall time and the peak resident memory of the CLI process (from wait4's rusage of that child,
so one run's peak never hides another's), rows and rows/s. Table counts are read after each run to check that
the import loaded every row, that the re-import added none and that the refusal wrote nothing. Prints a table
and writes bench/results/import.json with the figures, the targets, the machine, the versions and the command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from copy_peer import peer_run
from import_support import DATA, ROOT, Run, machine, measured, print_table, tail
from import_support import versions as _versions

RESULTS = ROOT / "bench" / "results" / "import.json"
VENV_BIN = ROOT / ".venv" / "bin"
FILES = ("parties", "loans", "assets", "policies", "valuations", "liens", "lien_loans")
TABLES = {
    "parties": "party",
    "loans": "loan",
    "assets": "asset",
    "policies": "policy",
    "valuations": "valuation",
    "liens": "lien",
    "lien_loans": "lien_loan",
}
PG_DATABASE = "collateral_bench"  # what bench/coverage.py and bench/settlement.py import books into
IMPORT_DATABASE = "collateral_bench_import"  # this bench's own
TARGETS = {
    "machine": "2 cores",
    "postgres_import_seconds": 60,
    "sqlite_import_seconds": 120,
    "peak_rss_mib": 4096,
    "postgres_import_over_copy_peer": 3,
}
_CORRUPTION_LINE = re.compile(r"^  (\w+), row (\d+), column (\w+): (.*)$", re.MULTILINE)
_ERROR_LINE = re.compile(r"^(\w+): row (\d+), column (\w+)", re.MULTILINE)
_STEP_LINE = re.compile(r"^  (.+): ([0-9.]+) s$", re.MULTILINE)


_tail = tail  # bench/coverage.py and bench/settlement.py use these helpers by their old names


def versions(pg_env: dict[str, str] | None) -> dict[str, Any]:
    return _versions(_psql(), pg_env)


def _psql(database: str = "postgres") -> list[str]:
    return ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1"]


def _python() -> str:
    python = VENV_BIN / "python"
    return str(python) if python.exists() else sys.executable


def _collateral() -> str:
    collateral = VENV_BIN / "collateral"
    return str(collateral) if collateral.exists() else "collateral"


def book_rows(directory: Path, fmt: str) -> dict[str, int]:
    scan = pl.scan_parquet if fmt == "parquet" else pl.scan_csv
    return {name: int(scan(directory / f"{name}.{fmt}").select(pl.len()).collect().item()) for name in FILES}


def ensure_book(loans: int, seed: int, fmt: str, *, bad_rows: int, reuse: bool, typed: bool = False) -> dict[str, Any]:
    """Generate (or reuse) bench/data/book-<loans>-<seed>-<fmt>[-typed][-bad<k>]; its rows and how it was made."""
    name = f"book-{loans}-{seed}-{fmt}" + ("-typed" if typed else "") + (f"-bad{bad_rows}" if bad_rows else "")
    directory, log = DATA / name, DATA / f"{name}.generate.txt"
    complete = all((directory / f"{f}.{fmt}").exists() for f in FILES) and log.exists()
    info: dict[str, Any] = {"dir": str(directory.relative_to(ROOT)), "reused": reuse and complete}
    if not info["reused"]:
        cmd = [
            _python(),
            "bench/generate.py",
            str(directory.relative_to(ROOT)),
            "--loans",
            str(loans),
            "--seed",
            str(seed),
            "--format",
            fmt,
        ]
        if bad_rows:
            cmd += ["--bad-rows", str(bad_rows)]
        if typed:
            cmd.append("--typed")
        run = measured(cmd)
        if run.exit_code != 0:
            raise SystemExit(f"generation failed ({run.command}):\n{run.stderr}")
        log.write_text(run.stdout)
        info["generation"] = {"command": run.command, "seconds": run.seconds, "peak_rss_mib": run.peak_rss_mib}
    info["rows"] = book_rows(directory, fmt)
    info["total_rows"] = sum(info["rows"].values())
    info["bytes"] = sum((directory / f"{f}.{fmt}").stat().st_size for f in FILES)
    corruptions = _CORRUPTION_LINE.findall(log.read_text())
    info["corruptions"] = [{"file": f, "row": int(r), "column": c, "problem": p} for f, r, c, p in corruptions]
    return info


@dataclass
class Engine:
    name: str
    url: str
    env: dict[str, str]

    @property
    def database(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def fresh(self) -> None:
        if self.name == "postgres":
            subprocess.run(
                [
                    *_psql(),
                    "-c",
                    f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)",
                    "-c",
                    f"CREATE DATABASE {self.database}",
                ],
                check=True,
                capture_output=True,
                env=self.env,
            )
        else:
            path = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def stop_server_work(self) -> None:
        """After a run was killed: end its statements still running in PostgreSQL, so they slow nothing after."""
        if self.name == "postgres":
            subprocess.run(
                [
                    *_psql(),
                    "-tAc",
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{self.database}' AND pid <> pg_backend_pid()",
                ],
                capture_output=True,
                check=False,
                env=self.env,
            )

    def counts(self) -> dict[str, int] | None:
        """Rows per table, or None when the tables are not where the bench expects them."""
        query = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES.values())
        try:
            if self.name == "postgres":
                done = subprocess.run(
                    [*_psql(self.database), "-tAc", query], capture_output=True, text=True, check=True, env=self.env
                )
                values = [int(v) for v in done.stdout.strip().split("|")]
            else:
                with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                    values = list(db.execute(query).fetchone())
        except (subprocess.CalledProcessError, sqlite3.Error, ValueError):
            return None
        return dict(zip(TABLES, values, strict=True))


def make_engine(name: str, loans: int, seed: int, database: str = PG_DATABASE) -> tuple[Engine | None, str | None]:
    env = dict(os.environ)
    env["COLLATERAL_DATA_DIR"] = str(DATA / "state")
    env.setdefault("COLLATERAL_SECRET_KEY", "bench-secret-key-bench-secret-key-0123456789")
    if name == "postgres":
        if shutil.which("psql") is None:
            return None, "psql is not installed"
        probe = subprocess.run([*_psql(), "-tAc", "SELECT 1"], capture_output=True, text=True, check=False, env=env)
        if probe.returncode != 0:
            return None, f"PostgreSQL at 127.0.0.1 is not reachable: {probe.stderr.strip()}"
        env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{database}"
    elif name == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{DATA / f'bench-{loans}-{seed}.sqlite3'}"
    else:
        return None, f"unknown engine {name!r} (postgres or sqlite)"
    return Engine(name, env["DATABASE_URL"], env), None


def import_available() -> bool:
    done = subprocess.run([_collateral(), "import", "--help"], capture_output=True, text=True, check=False)
    return done.returncode == 0


def _summary(run: Run, rows: int) -> dict[str, Any]:
    figures = asdict(run)
    figures["stdout_tail"], figures["stderr_tail"] = tail(figures.pop("stdout")), tail(figures.pop("stderr"))
    figures["rows"] = rows
    figures["rows_per_second"] = round(rows / run.seconds) if run.seconds else None
    return figures


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median seconds (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r["seconds"])[(len(runs) - 1) // 2]


def _import_runs(engine: Engine, book: dict[str, Any], timeout: float, runs: int, result: dict[str, Any]) -> None:
    """`runs` times: the peer (PostgreSQL), then a fresh database, migrate and the timed import, alternately, so
    both see the same machine in the same minutes."""
    collateral = _collateral()
    result["import_runs"], result["peer_runs"] = [], []
    for _ in range(runs):
        if engine.name == "postgres":
            run, counts = peer_run(measured, _python(), book["dir"], _psql, engine.env, timeout)
            peer = _summary(run, book["total_rows"])
            peer["copied_every_row"] = counts == book["rows"]
            result["peer_runs"].append(peer)
        engine.fresh()
        migrate = measured([collateral, "migrate"], engine.env, timeout)
        result["migrate_seconds"] = migrate.seconds
        if migrate.exit_code != 0:
            result["error"] = f"migrate failed: {tail(migrate.stderr)}"
            return
        result["counts_empty"] = engine.counts()
        first = measured([collateral, "import", "--timings", book["dir"]], engine.env, timeout)
        if first.timed_out:
            engine.stop_server_work()
        summary = _summary(first, book["total_rows"])
        summary["steps"] = {step: float(sec) for step, sec in _STEP_LINE.findall(first.stdout)}
        summary["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["import_runs"].append(summary)
        if first.timed_out:  # another try would only time out again
            return


def bench_engine(
    engine: Engine, book: dict[str, Any], bad: dict[str, Any], timeout: float, runs: int = 1
) -> dict[str, Any]:
    collateral = _collateral()
    result: dict[str, Any] = {"database_url": engine.url}
    _import_runs(engine, book, timeout, runs, result)
    if "error" in result:
        return result
    empty = result.pop("counts_empty")
    result["import"] = _median_run(result["import_runs"])
    first_ok = all(r["exit_code"] == 0 for r in result["import_runs"])
    if result["peer_runs"]:
        result["peer"] = _median_run(result["peer_runs"])
        result["ratio_import_over_peer"] = round(result["import"]["seconds"] / result["peer"]["seconds"], 2)
        result["ratio_per_run"] = [
            round(i["seconds"] / p["seconds"], 2)
            for i, p in zip(result["import_runs"], result["peer_runs"], strict=False)
        ]
    after_first = engine.counts()
    if result["import_runs"][-1]["timed_out"]:
        second = Run("", 0.0, 0.0, -1, False, "", "not run: the import timed out")
    else:
        second = measured([collateral, "import", book["dir"]], engine.env, timeout)
        if second.timed_out:
            engine.stop_server_work()
    result["reimport"] = _summary(second, book["total_rows"])
    after_second = engine.counts()
    refused = measured([collateral, "import", bad["dir"]], engine.env, timeout)
    if refused.timed_out:
        engine.stop_server_work()
    result["refused"] = _summary(refused, bad["total_rows"])
    after_refusal = engine.counts()

    reported = {(f, int(r), c) for f, r, c in _ERROR_LINE.findall(refused.stderr + refused.stdout)}
    expected = {(c["file"], c["row"], c["column"]) for c in bad["corruptions"]}
    result["checks"] = {
        "import_ok": first_ok,
        "reimport_ok": second.exit_code == 0,
        "refused_non_zero": refused.exit_code != 0,
        "refusal_names_corrupted_rows": bool(expected) and expected <= reported,
        "refusal_error_lines": len(reported),
        "counts_empty": empty,
        "counts_after_import": after_first,
        "counts_after_reimport": after_second,
        "loaded_every_row": after_first == book["rows"] if after_first is not None else None,
        "reimport_changed_nothing": after_first == after_second if after_first is not None else None,
        "refusal_wrote_nothing": after_second == after_refusal if after_second is not None else None,
    }
    target = TARGETS[f"{engine.name}_import_seconds"]
    result["meets_targets"] = {
        "seconds": first_ok and result["import"]["seconds"] <= target,
        "peak_rss": max(r["peak_rss_mib"] for r in (*result["import_runs"], result["reimport"], result["refused"]))
        <= TARGETS["peak_rss_mib"],
    }
    if "ratio_import_over_peer" in result:
        result["meets_targets"]["ratio"] = result["ratio_import_over_peer"] <= TARGETS["postgres_import_over_copy_peer"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="postgres,sqlite", help="comma-separated: postgres, sqlite")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", dest="fmt")
    parser.add_argument("--typed", action="store_true", help="Parquet with native types (generate.py --typed)")
    parser.add_argument("--runs", type=int, default=1, help="imports per engine, each after a peer run (PostgreSQL)")
    parser.add_argument("--reuse", action="store_true", help="keep an already generated book of these arguments")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a run is killed (default 900)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (JSON)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "bench/import.py", *(sys.argv[1:] if argv is None else argv)])

    if not import_available():
        print(f"`{_collateral()} import` does not exist yet (no such command); nothing to time", file=sys.stderr)
        return 2
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    machine_at_start = machine()  # the load average before the bench adds its own
    book = ensure_book(args.loans, args.seed, args.fmt, bad_rows=0, reuse=args.reuse, typed=args.typed)
    bad = ensure_book(args.loans, args.seed, args.fmt, bad_rows=1, reuse=args.reuse)
    results: dict[str, Any] = {}
    pg_env = None
    for name in engines:
        engine, reason = make_engine(name, args.loans, args.seed, IMPORT_DATABASE)
        if engine is None:
            results[name] = {"skipped": reason}
            continue
        pg_env = engine.env if name == "postgres" else pg_env
        print(f"{name}: migrate, import, re-import, refused import ...", flush=True)
        results[name] = bench_engine(engine, book, bad, args.timeout, args.runs)

    report = {
        "benchmark": "collateral import",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "machine": machine_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "versions": versions(pg_env),
        "targets": TARGETS,
        "book": {"loans": args.loans, "seed": args.seed, "format": args.fmt, "typed": args.typed, **book},
        "bad_book": bad,
        "engines": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_table(book, results, TARGETS)
    print(f"\nwritten {args.out}")
    ok = all(
        "import" in r and r["checks"]["import_ok"] and r["checks"]["reimport_ok"] and r["checks"]["refused_non_zero"]
        for r in results.values()
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
