"""From ref-level frames (the DESIGN 8 files, or database rows) to the integer-keyed BookFrames.

Keys are given once here, by a join on refs, and every later join is on integers. `parse_text_book`
types the all-string frames the bulk reader produces (`registry.bulk.files`) for a folder-of-files run;
it assumes the rows passed the import's checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from registry.bulk import checks as c
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.money import DEFAULT_CURRENCY as DEFAULT_LIEN_CURRENCY  # a lien with no loans, no currency
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


def _units(column: str, currency: pl.Expr) -> pl.Expr:
    return c.to_minor_units(column, c.minor_digits(currency)).alias(column)


def parse_text_book(
    loans: pl.LazyFrame,
    assets: pl.LazyFrame,
    valuations: pl.LazyFrame,
    policies: pl.LazyFrame,
    liens: pl.LazyFrame,
    lien_loans: pl.LazyFrame,
) -> RefBook:
    """All-string book files (as `registry.bulk.files.read_book_file` yields them) to a typed RefBook."""
    typed_loans = loans.with_columns(_units(col, pl.col("currency")) for col in BALANCE_COMPONENTS)
    lien_currency = (
        lien_loans.join(loans.select("loan_id", "currency"), on="loan_id")
        .group_by("lien_id")
        .agg(pl.col("currency").min())
    )
    typed_liens = (
        liens.join(lien_currency, on="lien_id", how="left")
        .with_columns(pl.col("currency").fill_null(DEFAULT_LIEN_CURRENCY))
        .with_columns(
            _units("cap", pl.col("currency")),
            _units("external_claim", pl.col("currency")),
            c.parse_timestamp("perfected_at").alias("perfected_at"),
        )
    )
    return RefBook(
        loans=typed_loans,
        assets=assets,
        valuations=valuations.with_columns(
            c.parse_date("valued_on").alias("valued_on"), _units("market_value", pl.col("currency"))
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
