"""From ref-level frames (the DESIGN 8 files, or database rows) to the integer-keyed BookFrames.

Keys are given once here, by a join on refs, and every later join is on integers. `parse_text_book`
types the all-string frames the bulk reader produces (`registry.bulk.files`) for a folder-of-files run;
it assumes the rows passed the import's checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    currency of the lien's loans, else CNY). `lien_money`, when given, turns the liens' cap and external_claim
    into minor units once key_book has found each lien's currency (book files carry amounts, not minor units,
    and a lien's currency is its loans': found on integer keys, not by joining the files' texts)."""

    loans: pl.LazyFrame
    assets: pl.LazyFrame
    valuations: pl.LazyFrame
    policies: pl.LazyFrame
    liens: pl.LazyFrame
    lien_loans: pl.LazyFrame
    double_pledge_asset_ids: pl.LazyFrame | None = None  # one column, asset_id
    lien_money: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None


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
    liens_keyed = _keyed(liens, "lien_id", "lien_key")
    lien_loans = (
        refs.lien_loans.join(liens_keyed.lazy().select("lien_id", "lien_key"), on="lien_id")
        .join(loan_keys, on="loan_id")
        .collect()
    )
    if "currency" not in lien_schema:
        # The lien's loans' currency (the smallest code when they differ: the engine refuses such a lien), by
        # integer key; the lien keeps its row, so its key stays its row index.
        loan_currency = lien_loans.group_by("lien_key").agg(pl.col("loan_currency").min().alias("currency"))
        with_currency = (
            liens_keyed.lazy()
            .join(loan_currency.lazy(), on="lien_key", how="left", maintain_order="left")
            .with_columns(pl.col("currency").fill_null(DEFAULT_LIEN_CURRENCY))
        )
        if refs.lien_money is not None:
            with_currency = refs.lien_money(with_currency)
        liens_keyed = with_currency.collect()

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
        lien_loans=lien_loans.lazy(),
    )
    if double is not None:
        book = book.with_frames(double_pledge_assets=double)
    return book.conformed()


Schema = Mapping[str, pl.DataType]


def _factors(shift: int, up: bool) -> dict[str, int]:
    """Per currency, 10^(digits - shift) when up (digits >= shift), else 10^(shift - digits) (digits < shift)."""
    return {code: 10 ** abs(digits - shift) for code, digits in MINOR_DIGITS.items() if (digits >= shift) == up}


def _with_units(frame: pl.LazyFrame, schema: Schema, columns: tuple[str, ...], currency: str) -> pl.LazyFrame:
    """The money `columns` as integer minor units of the row's currency, each by its type: a decimal string (CSV,
    untyped Parquet), a Parquet decimal (from its stored integer, times 10^(digits - scale), or divided by
    10^(scale - digits) when the file keeps more places than the currency has: those are zero in a book that passed
    the import's checks, and coverage_files refuses any that is not), or a Parquet integer of whole units. The
    currency's factor is looked up once per row for all the columns (a lookup per column costs three times the
    arithmetic). An unknown currency gives null; an amount past Int64 raises."""
    helpers: dict[str, pl.Expr] = {}
    converted: list[pl.Expr] = []
    for column in columns:
        dtype = schema[column]
        if not (isinstance(dtype, pl.Decimal) or dtype.is_integer()):
            helpers["_digits"] = c.minor_digits(pl.col(currency))
            converted.append(c.to_minor_units(column, pl.col("_digits")).alias(column))
            continue
        scale = (dtype.scale or 0) if isinstance(dtype, pl.Decimal) else 0
        up, down = f"_up{scale}", f"_down{scale}"
        helpers[up] = pl.col(currency).replace_strict(_factors(scale, up=True), default=None, return_dtype=pl.Int128)
        raw = pl.col(column).to_physical()  # the value times 10^scale
        units = raw * pl.col(up)
        if _factors(scale, up=False):
            helpers[down] = pl.col(currency).replace_strict(
                _factors(scale, up=False), default=None, return_dtype=pl.Int128
            )
            units = pl.when(pl.col(up).is_not_null()).then(units).otherwise(raw // pl.col(down))
        converted.append(units.cast(pl.Int64).alias(column))
    return frame.with_columns(**helpers).with_columns(converted).drop(list(helpers))


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
    typed_loans = _with_units(loans, loans_schema, BALANCE_COMPONENTS, "currency")

    def lien_money(keyed: pl.LazyFrame) -> pl.LazyFrame:
        return _with_units(keyed, liens_schema, ("cap", "external_claim"), "currency")

    return RefBook(
        loans=typed_loans,
        assets=assets,
        valuations=_with_units(valuations, valuations_schema, ("market_value",), "currency").with_columns(
            _date(valuations_schema, "valued_on")
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
        liens=liens.with_columns(_timestamp(liens_schema, "perfected_at")).drop("currency", strict=False),
        lien_loans=lien_loans,
        lien_money=lien_money,
    )
