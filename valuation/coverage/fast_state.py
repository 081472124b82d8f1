"""The state of one narrow run (valuation/coverage/fast.py): the book collected once, and the columns each
stage leaves for the ones after it, declared here so that every stage module reads them typed."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from valuation.coverage import fx
from valuation.coverage.fast_positions import I64, Keys, Wide
from valuation.coverage.frames import BookFrames, CoverageParams

Refuse = Callable[[pl.DataFrame], None]
Headroom = Callable[[int, int, int, int, int, dict[fx.Pair, tuple[int, int]]], None]


class State:
    """One narrow run's frames and the columns its stages leave (rows by position: loan, asset, lien)."""

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
    has_loans: pl.Series
    # allocate, split, contributions
    lien_rows: pl.DataFrame
    at_lien: pl.Series
    loan_share: pl.Series
    loan_surplus: pl.Series
    numbers: pl.DataFrame

    def __init__(self, book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> None:
        no_shocks = pl.LazyFrame(schema={"asset_key": I64, "multiplier": pl.Decimal(38, 12)})
        approved = book.valuations.filter((pl.col("status") == "approved") & (pl.col("valued_on") <= params.as_of))
        (
            self.loans,
            self.assets,
            self.liens,
            self.lien_loans,
            self.valuations,
            self.policies,
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
        self.loan_keys = Keys(self.loans["loan_key"])
        self.asset_keys = Keys(self.assets["asset_key"])
        self.lien_keys = Keys(self.liens["lien_key"])
        self.n_loans, self.n_assets, self.n_liens = len(self.loans), len(self.assets), len(self.liens)
        # Nulls the wide path reads in ways not worth copying here: it takes those books.
        if (
            self.assets["status"].null_count()
            or self.loans["currency"].null_count()
            or self.liens["currency"].null_count()
            or self.policies["kind"].null_count()
            or self.policies["max_ltv"].null_count()
        ):
            raise Wide
