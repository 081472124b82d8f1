"""`collateral coverage`: the coverage export of DESIGN section 8, from the database or from a folder of
book files (`--from DIR`, no database)."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click

from valuation.coverage import BookFrames, CoverageInputError, CoverageParams, compute_coverage
from valuation.coverage_sources import book_from_database, book_from_directory, coverage_export_frame, write_export

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


def _database_book() -> BookFrames:
    try:
        return book_from_database()
    except (RuntimeError, OSError) as exc:  # connectorx reports a missing table or server as RuntimeError
        click.echo(f"cannot read the book from the database ({exc}); is it migrated (`collateral migrate`)?",
                   err=True)
        sys.exit(1)


@click.command("coverage")
@click.option("--as-of", "as_of", required=True, callback=_as_of, help="The coverage date, YYYY-MM-DD.")
@click.option("--include-unperfected", is_flag=True,
              help="Also count liens that are submitted but not yet registered (ranked last).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), callback=_out,
              help="The output file: .csv, .parquet or .json (a list of objects).")
@click.option("--from", "source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Compute from this folder of book files (CSV or Parquet) instead of the database.")
def coverage_command(as_of: date, include_unperfected: bool, out: Path, source: Path | None) -> None:
    """Write every live loan's coverage as of --as-of to --out."""
    started = time.perf_counter()
    try:
        book = book_from_directory(source) if source is not None else _database_book()
        result = compute_coverage(book, CoverageParams(as_of=as_of, include_unperfected=include_unperfected))
        frame = coverage_export_frame(result.per_loan)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_export(frame, out)
    except CoverageInputError as exc:  # MissingFxRates is one
        click.echo(f"coverage refused: {exc}", err=True)
        sys.exit(1)
    seconds = time.perf_counter() - started
    click.echo(f"coverage as of {as_of}: {frame.height} loans written to {out} in {seconds:.2f} s")
