"""From ref-level frames (the DESIGN 8 files, or database rows) to the integer-keyed BookFrames.

Keys are given once here, by a join on refs, and every later join is on integers. `parse_text_book`
types the all-string frames the bulk reader produces (`registry.bulk.files`) for a folder-of-files run;
it assumes the rows passed the import's checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from registry.bulk import checks as c
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import DEFAULT_CURRENCY as DEFAULT_LIEN_CURRENCY  # a lien with no loans, no currency
from registry.money import MINOR_DIGITS
from valuation.coverage.frames import KEY, BookFrames, conform


@dataclass(frozen=True, slots=True)
class RefBook:
    """Typed frames keyed by refs. Columns as in DESIGN 8 (amounts already in minor units, valued_on a
    Date, perfected_at a UTC Datetime, ratios Decimal), plus the database-only columns when known:
    assets.status (default active), liens.expires_on (default null) and liens.currency (default: the
    currency of the lien's loans, else CNY)."""

    loans: pl.LazyFrame
    assets: pl.LazyFrame
    valuations: pl.LazyFrame
    policies: pl.LazyFrame
    liens: pl.LazyFrame
    lien_loans: pl.LazyFrame
    double_pledge_asset_ids: pl.LazyFrame | None = None  # one column, asset_id


def _keyed(frame: pl.LazyFrame, ref: str, key: str) -> pl.DataFrame:
    # Materialised so that the key a ref gets is fixed once, however many joins read it.
    return frame.with_row_index(key).with_columns(pl.col(key).cast(KEY)).collect()


def key_book(refs: RefBook) -> BookFrames:
    loans = _keyed(refs.loans, "loan_id", "loan_key")
    assets = _keyed(refs.assets, "asset_id", "asset_key")
    asset_keys = assets.lazy().select("asset_id", "asset_key")
    loan_keys = loans.lazy().select("loan_id", "loan_key", pl.col("currency").alias("loan_currency"))

    if "status" not in refs.assets.collect_schema():
        assets = assets.with_columns(pl.lit("active").alias("status"))
    liens = refs.liens.join(asset_keys, on="asset_id", how="inner")
    lien_schema = liens.collect_schema()
    if "expires_on" not in lien_schema:
        liens = liens.with_columns(pl.lit(None, pl.Date).alias("expires_on"))
    if "currency" not in lien_schema:
        loan_currency = (
            refs.lien_loans.join(loan_keys, on="loan_id")
            .group_by("lien_id")
            .agg(pl.col("loan_currency").min().alias("currency"))
        )
        liens = liens.join(loan_currency, on="lien_id", how="left").with_columns(
            pl.col("currency").fill_null(DEFAULT_LIEN_CURRENCY)
        )
    liens_keyed = _keyed(liens, "lien_id", "lien_key")

    lien_loans = refs.lien_loans.join(liens_keyed.lazy().select("lien_id", "lien_key"), on="lien_id").join(
        loan_keys, on="loan_id"
    )
    double = (
        refs.double_pledge_asset_ids.join(asset_keys, on="asset_id")
        if refs.double_pledge_asset_ids is not None
        else None
    )
    book = BookFrames(
        loans=loans.lazy(),
        assets=assets.lazy(),
        valuations=refs.valuations.join(asset_keys, on="asset_id"),
        policies=refs.policies,
        liens=liens_keyed.lazy(),
        lien_loans=lien_loans,
    )
    if double is not None:
        book = book.with_frames(double_pledge_assets=double)
    return book.conformed()


Schema = Mapping[str, pl.DataType]


def _factors(shift: int, up: bool) -> dict[str, int]:
    """Per currency, 10^(digits - shift) when up (digits >= shift), else 10^(shift - digits) (digits < shift)."""
    return {code: 10 ** abs(digits - shift) for code, digits in MINOR_DIGITS.items() if (digits >= shift) == up}


def decimal_units(column: str, scale: int, currency: pl.Expr) -> pl.Expr:
    """A Parquet decimal of `scale` places as integer minor units of its row's currency, exactly, from its stored
    integer (no text between): times 10^(digits - scale), or divided by 10^(scale - digits) when the file keeps more
    places than the currency has (those places are zero in a book that passed the import's checks;
    coverage_files refuses any that is not). One lookup of a factor per row; an unknown currency gives null."""
    raw = pl.col(column).to_physical()  # Int128: the value times 10^scale
    up = currency.replace_strict(_factors(scale, up=True), default=None, return_dtype=pl.Int128)
    down = _factors(scale, up=False)
    if not down:
        return raw * up
    divisor = currency.replace_strict(down, default=None, return_dtype=pl.Int128)
    return pl.when(up.is_not_null()).then(raw * up).otherwise(raw // divisor)


def _units(schema: Schema, column: str, currency: pl.Expr) -> pl.Expr:
    """A money column to minor units by its type: a decimal string (CSV, untyped Parquet), a Parquet decimal, or
    a Parquet integer of whole units."""
    dtype = schema[column]
    if isinstance(dtype, pl.Decimal):
        units = decimal_units(column, dtype.scale or 0, currency)
    elif dtype.is_integer():
        units = decimal_units(column, 0, currency)  # whole units: a decimal of scale 0
    else:
        return c.to_minor_units(column, c.minor_digits(currency)).alias(column)
    return units.cast(pl.Int64).alias(column)  # strict: an amount past Int64 raises instead of wrapping


def _date(schema: Schema, column: str) -> pl.Expr:
    return (pl.col(column) if schema[column] == pl.Date else c.parse_date(column)).alias(column)


def _timestamp(schema: Schema, column: str) -> pl.Expr:
    """A Parquet timestamp read as it is (no time zone = UTC, as the text of one would be), else parsed text."""
    dtype = schema[column]
    if not isinstance(dtype, pl.Datetime):
        return c.parse_timestamp(column).alias(column)
    stamp = pl.col(column)
    utc = stamp.dt.replace_time_zone("UTC") if dtype.time_zone is None else stamp.dt.convert_time_zone("UTC")
    return utc.dt.cast_time_unit("us").alias(column)


def parse_text_book(
    loans: pl.LazyFrame,
    assets: pl.LazyFrame,
    valuations: pl.LazyFrame,
    policies: pl.LazyFrame,
    liens: pl.LazyFrame,
    lien_loans: pl.LazyFrame,
) -> RefBook:
    """Book files to a typed RefBook: all-string frames (as `registry.bulk.files.read_book_file` yields them),
    or frames whose money, date and timestamp columns keep their Parquet types (`valuation.coverage_files`),
    each column converted by its own type."""
    loans_schema, liens_schema = loans.collect_schema(), liens.collect_schema()
    valuations_schema = valuations.collect_schema()
    typed_loans = loans.with_columns(_units(loans_schema, col, pl.col("currency")) for col in BALANCE_COMPONENTS)
    lien_currency = (
        lien_loans.join(loans.select("loan_id", "currency"), on="loan_id")
        .group_by("lien_id")
        .agg(pl.col("currency").min())
    )
    typed_liens = (
        liens.join(lien_currency, on="lien_id", how="left")
        .with_columns(pl.col("currency").fill_null(DEFAULT_LIEN_CURRENCY))
        .with_columns(
            _units(liens_schema, "cap", pl.col("currency")),
            _units(liens_schema, "external_claim", pl.col("currency")),
            _timestamp(liens_schema, "perfected_at"),
        )
    )
    return RefBook(
        loans=typed_loans,
        assets=assets,
        valuations=valuations.with_columns(
            _date(valuations_schema, "valued_on"), _units(valuations_schema, "market_value", pl.col("currency"))
        ),
        policies=conform(
            policies,
            {
                "kind": pl.String(),
                "haircut": pl.Decimal(38, 12),
                "revaluation_days": pl.Int64(),
                "max_ltv": pl.Decimal(38, 12),
            },
        ),
        liens=typed_liens,
        lien_loans=lien_loans,
    )
