"""`collateral coverage`: the coverage export of DESIGN section 8, from the database or from a folder of
book files (`--from DIR`, no database).

The last line reports the time spent loading the book (reading it and giving it integer keys), in the
engine, and formatting and writing the export: bench/coverage.py reads it."""

from __future__ import annotations

import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from valuation.coverage import BookFrames

# The engine, Polars and the readers are imported when the command runs, not when `collateral --help` lists it.

SUFFIXES = (".csv", ".parquet", ".json")


def _as_of(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _out(_ctx: click.Context, _param: click.Parameter, value: Path) -> Path:
    if value.suffix.lower() not in SUFFIXES:
        raise click.BadParameter(f"{value.name}: the file must end in {', '.join(SUFFIXES)}")
    return value


def _fx(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[tuple[str, str], Decimal]:
    from valuation.coverage import fx

    rates, problems = fx.parse_rates(values)
    if problems:
        raise click.BadParameter("; ".join(f"{values[i]!r}: {reason}" for i, reason in problems))
    return rates


def _database_book() -> BookFrames:
    from valuation.coverage_sources import book_from_database

    try:
        return book_from_database()
    except (RuntimeError, OSError) as exc:  # connectorx reports a missing table or server as RuntimeError
        click.echo(f"cannot read the book from the database ({exc}); is it migrated (`collateral migrate`)?", err=True)
        sys.exit(1)


def _loaded(book: BookFrames) -> BookFrames:
    """The book with every frame read and keyed now, so that the engine's time is the engine's alone."""
    import polars as pl

    from valuation.coverage import BookFrames

    names = list(book.__slots__)
    frames = pl.collect_all([getattr(book, name) for name in names])
    return BookFrames(**{name: frame.lazy() for name, frame in zip(names, frames, strict=True)})


@click.command("coverage")
@click.option("--as-of", "as_of", required=True, callback=_as_of, help="The coverage date, YYYY-MM-DD.")
@click.option(
    "--include-unperfected",
    is_flag=True,
    help="Also count liens that are submitted but not yet registered (ranked last).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_out,
    help="The output file: .csv, .parquet or .json (a list of objects).",
)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Compute from this folder of book files (CSV or Parquet) instead of the database.",
)
@click.option(
    "--fx",
    "fx_rates",
    multiple=True,
    callback=_fx,
    help="An exchange rate FROM/TO=RATE (units of TO, the loan's currency, per unit of FROM, the valuation's), "
    "e.g. USD/CNY=7.1; repeat for each pair a refusal lists as missing.",
)
@click.option(
    "--loans-per-batch",
    "loans_per_batch",
    type=click.IntRange(min=1),
    default=2_000_000,
    show_default=True,
    help="A book with more loans is computed in batches of whole components (loans linked through shared "
    "collateral) of about this many loans, to bound memory; the result is the same.",
)
def coverage_command(
    as_of: date,
    include_unperfected: bool,
    out: Path,
    source: Path | None,
    fx_rates: dict[tuple[str, str], Decimal],
    loans_per_batch: int,
) -> None:
    """Write every live loan's coverage as of --as-of to --out."""
    started = time.perf_counter()
    import polars as pl

    from valuation.coverage import CoverageInputError, CoverageParams, compute_coverage
    from valuation.coverage_files import book_from_directory
    from valuation.coverage_sources import coverage_export_frame, write_export

    try:
        book = _loaded(book_from_directory(source) if source is not None else _database_book())
        loaded = time.perf_counter()
        params = CoverageParams(as_of=as_of, include_unperfected=include_unperfected, fx_rates=fx_rates or None)
        if book.loans.select(pl.len()).collect().item() > loans_per_batch:
            from valuation.coverage.batches import per_loan_in_batches  # scipy: only for a book this large

            parts = per_loan_in_batches(book, params, loans_per_batch, finish=coverage_export_frame)
            in_batches = f" in {len(parts)} batches"
            computed = time.perf_counter()
            frame = pl.concat(parts)
            del parts
            frame = frame if frame["loan_id"].is_sorted() else frame.sort("loan_id")
        else:
            in_batches = ""
            result = compute_coverage(book, params)
            computed = time.perf_counter()
            frame = coverage_export_frame(result.per_loan)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_export(frame, out)
    except CoverageInputError as exc:  # MissingFxRates is one
        click.echo(f"coverage refused: {exc}", err=True)
        sys.exit(1)
    done = time.perf_counter()
    click.echo(
        f"coverage as of {as_of}: {frame.height} loans{in_batches} written to {out} in {done - started:.2f} s "
        f"(load {loaded - started:.2f} s, engine {computed - loaded:.2f} s, write {done - computed:.2f} s)"
    )
