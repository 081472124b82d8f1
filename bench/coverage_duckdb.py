"""The DuckDB peer of `collateral coverage --from`: the same book folder in, the same per-loan result out.

    python bench/coverage_duckdb.py DIR --as-of 2026-11-28 --out FILE.parquet [--fx USD/CNY=7.1 ...]
                                    [--include-unperfected] [--threads N]

Runs bench/coverage_duckdb.sql (DESIGN 5 steps 1-7) over DIR's Parquet files and writes the per-loan frame
(loan_id, borrower_id, currency, exposure, collateral_value, covered, uncovered in integer minor units, the three
ratios, breach and the flags) to FILE, rows by loan_id. bench/coverage.py runs it as a whole process exactly as it
runs the CLI, so the interpreter's start and DuckDB's import are counted as the CLI's are. It imports no Polars and
nothing of the project but registry.money (the minor digits of each currency). duckdb is a benchmark dependency
(`pip install -e '.[bench]'`), never imported by the application.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb

from registry.money import MINOR_DIGITS

SQL = Path(__file__).with_name("coverage_duckdb.sql")
FILES = ("loans", "assets", "policies", "valuations", "liens", "lien_loans")


def fx_factors(texts: list[str]) -> list[tuple[str, str, int, int]]:
    """FROM/TO=RATE as valuation/coverage/fx.py turns it into num/den: rate x 10^(digits TO - digits FROM)."""
    out = []
    for text in texts:
        pair, rate = text.split("=")
        value_ccy, loan_ccy = pair.split("/")
        ratio = Fraction(Decimal(rate)) * Fraction(10) ** (MINOR_DIGITS[loan_ccy] - MINOR_DIGITS[value_ccy])
        out.append((value_ccy, loan_ccy, ratio.numerator, ratio.denominator))
    return out


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def run(directory: Path, as_of: date, out: Path, fx: list[str], include_unperfected: bool, threads: int | None) -> int:
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    for name in FILES:
        con.execute(
            f"CREATE TEMP VIEW {name}_file AS SELECT * FROM read_parquet({_quoted(directory / f'{name}.parquet')})"
        )
    con.execute("CREATE TEMP TABLE digits (currency VARCHAR, milli BIGINT)")
    con.executemany("INSERT INTO digits VALUES (?, ?)", [(c, 10 ** (3 - d)) for c, d in MINOR_DIGITS.items()])
    con.execute("SET preserve_insertion_order = false")  # the result is sorted when written
    con.execute("CREATE TEMP TABLE fx (value_currency VARCHAR, currency VARCHAR, fx_num HUGEINT, fx_den HUGEINT)")
    factors = fx_factors(fx)
    if factors:
        con.executemany("INSERT INTO fx VALUES (?, ?, ?, ?)", factors)
    con.execute(f"SET VARIABLE as_of = DATE '{as_of.isoformat()}'")
    con.execute(f"SET VARIABLE include_unperfected = {str(include_unperfected).lower()}")
    con.execute(SQL.read_text())
    missing = con.execute(
        """SELECT DISTINCT value_currency, currency FROM lien
           WHERE value_currency IS NOT NULL AND value_currency <> currency
             AND (value_currency, currency) NOT IN (SELECT (value_currency, currency) FROM fx)"""
    ).fetchall()
    if missing:
        print(f"refused: missing fx rates {', '.join(f'{a}/{b}' for a, b in missing)}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT * FROM per_loan ORDER BY loan_id) TO {_quoted(out)} (FORMAT parquet)")
    return 0


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--as-of", required=True, type=date.fromisoformat)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--fx", action="append", default=[])
    parser.add_argument("--include-unperfected", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    args = parser.parse_args(argv)
    status = run(args.directory, args.as_of, args.out, args.fx, args.include_unperfected, args.threads)
    if status == 0:
        print(f"duckdb coverage as of {args.as_of} written to {args.out} in {time.perf_counter() - started:.2f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
