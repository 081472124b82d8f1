"""`collateral coverage --from DIR`: the book from a folder of DESIGN 8 files, typed as the files carry it.

A Parquet file is scanned, not converted: only the columns the engine reads, and its money, date and timestamp
columns in their own Parquet types when they are typed (decimals to minor units from their stored integers,
dates and UTC timestamps as they are). The import reads every column as text so that one set of checks serves
CSV and Parquet; here that round trip (format every typed value as text, parse it back) was most of the load.
CSV files are read as text as before. Nothing is hashed: the command stores nothing. Header problems refuse
the book exactly as the import words them; a typed amount that cannot be a book amount (negative, or more
places than its currency has) is refused with its file, row and column, as the import would refuse it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from registry.bulk import checks as c
from registry.bulk.files import as_string, find_book_files, header_problems, read_book_frame
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import DEFAULT_CURRENCY, MINOR_DIGITS  # a lien with no loans is in the default currency
from valuation.coverage import BookFrames, CoverageInputError
from valuation.coverage import refs as coverage_refs

# The book files the engine reads, with the columns of DESIGN 8.
BOOK_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("loan_id", "borrower_id", "currency", *BALANCE_COMPONENTS, "status"),
    "assets": ("asset_id", "kind", "owner_id", "description"),
    "policies": ("kind", "haircut", "revaluation_days", "max_ltv"),
    "valuations": ("asset_id", "valued_on", "market_value", "currency", "method", "status"),
    "liens": ("lien_id", "asset_id", "kind", "holder", "status", "perfected_at", "cap", "external_claim"),
    "lien_loans": ("lien_id", "loan_id"),
}
# Columns a book file may carry that the computation does not read (a lien's currency follows its loans').
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"liens": ("currency",)}
# The columns the engine reads from each file; the header is still checked against BOOK_COLUMNS.
READ_COLUMNS: dict[str, tuple[str, ...]] = {
    **BOOK_COLUMNS,
    "assets": ("asset_id", "kind"),
    "valuations": ("asset_id", "valued_on", "market_value", "currency", "status"),
}
# Columns kept in their Parquet type when it is one of these; any other column is read as the import's text.
MONEY = {"loans": BALANCE_COMPONENTS, "valuations": ("market_value",)}
LIEN_MONEY = ("cap", "external_claim")
NATIVE: dict[str, dict[str, tuple[type[pl.DataType], ...]]] = {
    "loans": dict.fromkeys(MONEY["loans"], (pl.Decimal, pl.Int64, pl.Int32, pl.UInt32, pl.UInt64)),
    "valuations": {"valued_on": (pl.Date,), "market_value": (pl.Decimal, pl.Int64, pl.Int32, pl.UInt32, pl.UInt64)},
    "liens": {
        "perfected_at": (pl.Datetime,),
        **dict.fromkeys(LIEN_MONEY, (pl.Decimal, pl.Int64, pl.Int32, pl.UInt32, pl.UInt64)),
    },
    "policies": {"haircut": (pl.Decimal,), "max_ltv": (pl.Decimal,), "revaluation_days": (pl.Int64, pl.Int32)},
}


def _scan_parquet(name: str, path: Path) -> tuple[pl.LazyFrame | None, pl.DataFrame]:
    try:
        schema = pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return None, c.error_frame([(name, 0, "", f"cannot read {path.name}: {exc}")])
    problems = header_problems(name, schema, BOOK_COLUMNS[name], OPTIONAL_COLUMNS.get(name, ()))
    if problems.height:
        return None, problems
    native = NATIVE.get(name, {})
    exprs = [
        pl.col(column) if isinstance(schema[column], native.get(column, ())) else as_string(column, schema[column])
        for column in READ_COLUMNS[name]
    ]
    return pl.scan_parquet(path).select(exprs), problems


def _read(name: str, path: Path) -> tuple[pl.LazyFrame | None, pl.DataFrame]:
    if path.suffix == ".parquet":
        return _scan_parquet(name, path)
    frame, problems = read_book_frame(name, path, BOOK_COLUMNS[name], OPTIONAL_COLUMNS.get(name, ()))
    return (None if frame is None else frame.lazy().select(READ_COLUMNS[name])), problems


def _typed_money_checks(
    schema: pl.Schema, columns: tuple[str, ...], digits: pl.Expr | int
) -> dict[str, list[tuple[pl.Expr, pl.Expr | str]]]:
    """Per typed money column: (bad, reason) for what the import would refuse (a negative amount, or more places
    than its currency has). Text amounts are the import's to check, as before. `digits` is per row, or one count
    for every row (then a column with no more places than that cannot have too many)."""
    checks: dict[str, list[tuple[pl.Expr, pl.Expr | str]]] = {}
    for column in columns:
        dtype = schema[column]
        if not (isinstance(dtype, pl.Decimal) or dtype.is_integer()):
            continue
        checks[column] = [(pl.col(column) < 0, "must not be negative")]
        scale = (dtype.scale or 0) if isinstance(dtype, pl.Decimal) else 0
        if isinstance(digits, int):
            if scale > digits:
                places = pl.col(column).to_physical() % 10 ** (scale - digits) != 0
                checks[column].append((places, f"more than {digits} decimal places for this currency"))
        elif scale > 0:
            extra = pl.lit(10, pl.Int128).pow((scale - digits).clip(lower_bound=0))
            places = (digits < scale) & (pl.col(column).to_physical() % extra != 0)
            checks[column].append((places, pl.format("more than {} decimal places for this currency", digits)))
    return checks


def typed_money_problems(
    name: str, frame: pl.LazyFrame, columns: tuple[str, ...], digits: pl.Expr
) -> pl.LazyFrame | None:
    """(file, row, column, reason) for each typed amount the import would refuse; None when no column is typed."""
    checks = _typed_money_checks(frame.collect_schema(), columns, digits)
    if not checks:
        return None
    # The row is numbered before any join (a join keeps no order), so a lien's row is its row in the file.
    numbered = frame if c.ROW in frame.collect_schema() else frame.with_row_index(c.ROW, offset=1)
    reasons = numbered.select(
        pl.col(c.ROW).cast(pl.Int64),
        *(c.first_reason(*(c.reason_if(bad, why) for bad, why in found)).alias(col) for col, found in checks.items()),
    )
    return (
        reasons.unpivot(index=c.ROW, variable_name="column", value_name="reason")
        .drop_nulls("reason")
        .select(pl.lit(name).alias("file"), pl.col(c.ROW).alias("row"), "column", "reason")
    )


def _any_typed_money_problem(frame: pl.LazyFrame, columns: tuple[str, ...], fewest: int) -> pl.LazyFrame | None:
    """One row: whether any typed amount might be refused, judged by the fewest digits of any currency its rows
    can be in (never passing what the precise check would refuse; a lien's currency is its loans', a join)."""
    checks = _typed_money_checks(frame.collect_schema(), columns, fewest)
    bad = [condition.fill_null(False).any() for found in checks.values() for condition, _ in found]
    return frame.select(pl.any_horizontal(bad)) if bad else None


def _check_typed_money(directory: Path, frames: dict[str, pl.LazyFrame]) -> None:
    """Refuse the book when a typed amount is one the import would refuse. One aggregate pass answers for the usual
    book (nothing found); the rows are listed only when something is."""
    by_row = c.minor_digits(pl.col("currency"))
    loans_fewest, valuations_fewest = (
        found.item() if found.item() is not None else 0
        for found in pl.collect_all(
            [frames[name].select(c.minor_digits(pl.col("currency").unique()).min()) for name in ("loans", "valuations")]
        )
    )
    liens_fewest = min(loans_fewest, MINOR_DIGITS[DEFAULT_CURRENCY])  # a lien without loans: the default currency
    quick = {
        "loans": _any_typed_money_problem(frames["loans"], MONEY["loans"], loans_fewest),
        "valuations": _any_typed_money_problem(frames["valuations"], MONEY["valuations"], valuations_fewest),
        "liens": _any_typed_money_problem(frames["liens"], LIEN_MONEY, liens_fewest),
    }
    asked = {name: frame for name, frame in quick.items() if frame is not None}
    suspect = [name for name, found in zip(asked, pl.collect_all(list(asked.values())), strict=True) if found.item()]
    if not suspect:
        return
    listed = {
        "loans": lambda: typed_money_problems("loans", frames["loans"], MONEY["loans"], by_row),
        "valuations": lambda: typed_money_problems("valuations", frames["valuations"], MONEY["valuations"], by_row),
        "liens": lambda: typed_money_problems(
            "liens", _lien_currency(frames["liens"], frames["lien_loans"], frames["loans"]), LIEN_MONEY, by_row
        ),
    }
    problems = [listed[name]() for name in suspect]
    _refuse(directory, pl.collect_all([p for p in problems if p is not None]))


def _lien_currency(liens: pl.LazyFrame, lien_loans: pl.LazyFrame, loans: pl.LazyFrame) -> pl.LazyFrame:
    """Liens with their loans' currency, for checking their typed amounts (as refs.parse_text_book gives it)."""
    currency = (
        lien_loans.join(loans.select("loan_id", "currency"), on="loan_id")
        .group_by("lien_id")
        .agg(pl.col("currency").min())
    )
    numbered = liens.with_row_index(c.ROW, offset=1)
    return numbered.join(currency, on="lien_id", how="left").with_columns(
        pl.col("currency").fill_null(DEFAULT_CURRENCY)
    )


def _refuse(directory: Path, errors: list[pl.DataFrame]) -> None:
    shown = pl.concat(errors)
    if shown.height:
        listed = "; ".join(
            f"{r['file']}: " + (f"row {r['row']}, " if r["row"] else "") + f"{r['column'] or 'file'}: {r['reason']}"
            for r in shown.head(20).to_dicts()
        )
        raise CoverageInputError(f"cannot read the book in {directory}: {listed}")


def book_from_directory(directory: Path) -> BookFrames:
    """The book from a folder of DESIGN 8 files (CSV or Parquet), no database. The files are taken to have
    passed the import's checks; an unreadable file, a wrong header or a typed amount the import would refuse
    raises CoverageInputError. Missing files are empty; parcel overlaps are not in the files, so no asset is a
    possible double pledge."""
    if not directory.is_dir():
        raise CoverageInputError(f"{directory} is not a directory")
    paths, problems = find_book_files(directory, BOOK_COLUMNS)
    errors = [problems]
    frames: dict[str, pl.LazyFrame] = {}
    for name, columns in READ_COLUMNS.items():
        if name not in paths:
            frames[name] = pl.LazyFrame(schema=dict.fromkeys(columns, pl.String))
            continue
        loaded, header_errors = _read(name, paths[name])
        errors.append(header_errors)
        if loaded is not None:
            frames[name] = loaded
    _refuse(directory, errors)
    if "loans" not in paths:
        raise CoverageInputError(f"no loans file (loans.csv or loans.parquet) in {directory}")
    _check_typed_money(directory, frames)
    book = coverage_refs.parse_text_book(
        loans=frames["loans"],
        assets=frames["assets"],  # status: active (key_book's default)
        # The engine reads approved valuations only (as book_from_database reads them): the rest are not keyed.
        valuations=frames["valuations"].filter(pl.col("status") == "approved"),
        policies=frames["policies"],
        liens=frames["liens"],
        lien_loans=frames["lien_loans"],
    )
    return coverage_refs.key_book(book)
