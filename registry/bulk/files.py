"""Reading and writing the book's files, CSV or Parquet, as all-string frames."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from registry.bulk.checks import ROW, error_frame
from registry.bulk.limits import ReadLimits, check_before_reading
from registry.downloads import csv_safe_frame

FORMATS = ("csv", "parquet")


@dataclass(frozen=True, slots=True)
class LoadedFile:
    name: str
    frame: pl.DataFrame  # every column a string, plus the 1-based data row in ROW
    sha256: str


def as_string(name: str, dtype: pl.DataType) -> pl.Expr:
    """A typed Parquet column as the same strings a CSV would carry."""
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if isinstance(dtype, pl.Datetime):
        as_utc = column.dt.replace_time_zone("UTC") if dtype.time_zone is None else column.dt.convert_time_zone("UTC")
        return as_utc.dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ").alias(name)
    if dtype == pl.Date:
        return column.dt.to_string("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def _as_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed Parquet columns become the same strings a CSV would carry, so one set of checks serves both."""
    return frame.select(as_string(name, dtype) for name, dtype in frame.schema.items())


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def header_problems(
    name: str, present: Iterable[str], columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> pl.DataFrame:
    """A file's header against the columns it must carry (row 0 = the header); empty when it is right."""
    present = list(present)
    problems = [(name, 0, c, "required column is missing") for c in columns if c not in present]
    problems += [(name, 0, c, "unexpected column") for c in present if c not in columns and c not in optional]
    return error_frame(problems)


def read_book_file(
    name: str,
    path: Path,
    columns: tuple[str, ...],
    optional: tuple[str, ...] = (),
    limits: ReadLimits | None = None,
) -> tuple[LoadedFile | None, pl.DataFrame]:
    """Read one file; a header problem refuses the whole file (row 0 = the header). An optional column the
    file does not carry is read as all nulls. With `limits` (uploads), a file over them raises
    UploadTooLargeError, before it is read when its size or metadata tell."""
    frame, errors = read_book_frame(name, path, columns, optional, limits)
    if frame is None:
        return None, errors
    return LoadedFile(name, frame, file_digest(path)), errors


def read_book_frame(
    name: str,
    path: Path,
    columns: tuple[str, ...],
    optional: tuple[str, ...] = (),
    limits: ReadLimits | None = None,
) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """read_book_file without the file's digest, for a reader that stores nothing (`coverage --from`)."""
    if limits is not None and (reason := check_before_reading(name, path, limits)):
        return None, error_frame([(name, 0, "", reason)])
    # One row past the bound is enough to know a CSV is over it.
    n_rows = limits.max_rows + 1 if limits is not None else None
    try:
        if path.suffix == ".csv":
            frame = pl.read_csv(path, infer_schema=False, n_rows=n_rows)
        else:
            frame = pl.read_parquet(path, n_rows=n_rows)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return None, error_frame([(name, 0, "", f"cannot read {path.name}: {exc}")])
    if limits is not None and frame.height > limits.max_rows:
        raise limits.too_many_rows(name)
    problems = header_problems(name, frame.columns, columns, optional)
    if problems.height:
        return None, problems
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in optional if c not in frame.columns)
    columns = (*columns, *optional)
    # A number, date, time or boolean Parquet column never reads as a blank string: only the others are looked at.
    text = [c for c in columns if not (frame.schema[c].is_numeric() or frame.schema[c].is_temporal())]
    text = [c for c in text if frame.schema[c] != pl.Boolean]
    frame = _as_strings(frame.select(columns)).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    # Blank cells are nulls whichever format carried them.
    frame = frame.with_columns(
        pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in text
    )
    return frame, error_frame([])


def find_book_files(directory: Path, names: Iterable[str]) -> tuple[dict[str, Path], pl.DataFrame]:
    found: dict[str, Path] = {}
    problems = []
    for name in names:
        paths = [directory / f"{name}.{fmt}" for fmt in FORMATS if (directory / f"{name}.{fmt}").exists()]
        if len(paths) > 1:
            problems.append((name, 0, "", f"both {name}.csv and {name}.parquet are present; keep one"))
        elif paths:
            found[name] = paths[0]
    return found, error_frame(problems)


def write_book_file(frame: pl.DataFrame, directory: Path, name: str, fmt: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.{fmt}"
    if fmt == "csv":
        csv_safe_frame(frame).write_csv(path)
    else:
        frame.write_parquet(path)
    return path
