"""The state of one run (valuation/coverage/fast.py): the book collected once, and the columns each
stage leaves for the ones after it, declared here so that every stage module reads them typed."""

from __future__ import annotations

import polars as pl

from valuation.coverage.errors import CoverageInputError
from valuation.coverage.fast_positions import I64, Keys, sorted_by_key
from valuation.coverage.frames import BookFrames, CoverageParams


class State:
    """One run's frames and the columns its stages leave (rows by position: loan, asset, lien)."""

    # exposures
    exposure: pl.Series
    live: pl.Series
    currencies: list[str]
    money: pl.Enum
    loan_ccy: pl.Series
    lien_ccy: pl.Series
    # asset_values
    value_ccy: pl.Series
    ltv_gcd: int
    max_ltv_reduced: pl.Series
    asset_table: pl.DataFrame
    # ranks
    status: pl.Series
    alone: pl.DataFrame
    together: pl.DataFrame
    own: pl.Series
    counted_own: pl.Series
    # links
    unperfected_loans: pl.Series
    by_loan: pl.DataFrame
    by_lien: pl.DataFrame
    secured: pl.Series
    mixed: pl.Series
    # allocate, split, contributions
    lien_rows: pl.DataFrame
    at_lien: pl.Series
    loan_share: pl.Series
    loan_surplus: pl.Series
    numbers: pl.DataFrame

    def __init__(
        self, book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None, money: pl.DataType
    ) -> None:
        """`money`: Int64, or Int128 when the Int64 pass found a book past its bounds (fast.compute)."""
        self.M = money
        no_shocks = pl.LazyFrame(schema={"asset_key": I64, "multiplier": pl.Decimal(38, 12)})
        approved = book.valuations.filter((pl.col("status") == "approved") & (pl.col("valued_on") <= params.as_of))
        (
            loans,
            assets,
            liens,
            lien_loans,
            valuations,
            policies,
            self.double,
            self.shocks,
        ) = pl.collect_all(
            [
                book.loans,
                book.assets,
                book.liens,
                book.lien_loans,
                approved.select("asset_key", "valued_on", "market_value", "currency"),
                book.policies,
                book.double_pledge_assets,
                no_shocks if shocks is None else shocks,
            ]
        )
        self.params = params
        self.loans = sorted_by_key(loans, "loan_key")
        self.assets = sorted_by_key(assets.with_columns(pl.col("status").fill_null("")), "asset_key")
        self.liens = sorted_by_key(liens, "lien_key")
        self.loan_keys = Keys(self.loans["loan_key"])
        self.asset_keys = Keys(self.assets["asset_key"])
        self.lien_keys = Keys(self.liens["lien_key"])
        self.n_loans, self.n_assets, self.n_liens = len(self.loans), len(self.assets), len(self.liens)
        if self.loans["currency"].null_count() or self.liens["currency"].null_count():
            raise CoverageInputError("loans and liens need a currency")
        # A policy names its kind and gives every ratio, or it is no policy (frames.py, POLICIES).
        self.policies = policies.drop_nulls(["kind", "haircut", "max_ltv"])
        self.lien_asset = self.asset_keys.find(self.liens["asset_key"])
        if self.lien_asset.null_count():
            raise CoverageInputError("liens on assets that are not in the book")
        # Links and valuations naming no row of the book are no part of it (as a join would read them).
        link_loan, link_lien = self.loan_keys.find(lien_loans["loan_key"]), self.lien_keys.find(lien_loans["lien_key"])
        if link_loan.null_count() or link_lien.null_count():
            kept = link_loan.is_not_null() & link_lien.is_not_null()
            link_loan, link_lien = link_loan.filter(kept), link_lien.filter(kept)
        self.link_loan, self.link_lien = link_loan, link_lien
        self.valuations = valuations.with_columns(self.asset_keys.find(valuations["asset_key"]).alias("_a"))
        if self.valuations["_a"].null_count():
            self.valuations = self.valuations.drop_nulls("_a")
