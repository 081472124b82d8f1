"""The coverage engine's input contract: typed LazyFrames keyed by integers.

Refs (loan_id, lien_id, asset_id) ride along only for output and for the largest-remainder tie rule
(DESIGN 7: ties go to the smaller ref); every join is on an integer key. Money is integer minor units in
the row's own currency; ratios are Decimal(38, 12) so a haircut such as 0.30 is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import polars as pl

from valuation.coverage.errors import CoverageInputError

# Int64 keys: database serials arrive as Int64, so the database path needs no cast; at a million loans
# the extra four bytes a row over UInt32 are a few megabytes.
KEY: pl.DataType = pl.Int64()
MONEY: pl.DataType = pl.Int64()
RATIO = pl.Decimal(38, 12)
UTC_TIME = pl.Datetime("us", "UTC")

LOANS: dict[str, pl.DataType] = {
    "loan_key": KEY,
    "loan_id": pl.String(),
    "borrower_id": pl.String(),
    "currency": pl.String(),
    "principal": MONEY,
    "interest": MONEY,
    "penalty": MONEY,
    "fees": MONEY,
    "status": pl.String(),  # performing, overdue, non_performing, restructured, settled, written_off
}
ASSETS: dict[str, pl.DataType] = {
    "asset_key": KEY,
    "asset_id": pl.String(),
    "kind": pl.String(),
    "status": pl.String(),  # active, seized, in_disposal, disposed, taken_in_lieu, released
}
VALUATIONS: dict[str, pl.DataType] = {
    "asset_key": KEY,
    "valued_on": pl.Date(),
    "market_value": MONEY,
    "currency": pl.String(),
    "status": pl.String(),  # submitted, approved, rejected: only approved ones count
}
POLICIES: dict[str, pl.DataType] = {
    "kind": pl.String(),
    "haircut": RATIO,
    "revaluation_days": pl.Int64(),
    "max_ltv": RATIO,
}
LIENS: dict[str, pl.DataType] = {
    "lien_key": KEY,
    "lien_id": pl.String(),
    "asset_key": KEY,
    "holder": pl.String(),  # "own" or the other creditor's name
    "status": pl.String(),  # the registration vocabulary of DESIGN 4
    "perfected_at": UTC_TIME,
    "cap": MONEY,  # own liens; null = unlimited
    "external_claim": MONEY,  # other creditors' liens
    "expires_on": pl.Date(),
    "currency": pl.String(),  # of cap / external_claim; an own lien's loans are in it too
}
LIEN_LOANS: dict[str, pl.DataType] = {"lien_key": KEY, "loan_key": KEY}
DOUBLE_PLEDGE: dict[str, pl.DataType] = {"asset_key": KEY}
SHOCKS: dict[str, pl.DataType] = {"asset_key": KEY, "multiplier": RATIO}


def conform(frame: pl.LazyFrame, schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """Exactly the contract's columns in the contract's types; extra columns are dropped."""
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def empty(schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    return pl.LazyFrame(schema=dict(schema))


@dataclass(frozen=True, slots=True)
class BookFrames:
    """One book as the engine reads it. Referential integrity (every key in lien_loans, liens and
    valuations names a row of loans/liens/assets) is the loader's job: the import enforces it."""

    loans: pl.LazyFrame
    assets: pl.LazyFrame
    valuations: pl.LazyFrame
    policies: pl.LazyFrame
    liens: pl.LazyFrame
    lien_loans: pl.LazyFrame
    double_pledge_assets: pl.LazyFrame = field(default_factory=lambda: empty(DOUBLE_PLEDGE))

    def conformed(self) -> BookFrames:
        return BookFrames(
            loans=conform(self.loans, LOANS),
            assets=conform(self.assets, ASSETS),
            valuations=conform(self.valuations, VALUATIONS),
            policies=conform(self.policies, POLICIES),
            liens=conform(self.liens, LIENS),
            lien_loans=conform(self.lien_loans, LIEN_LOANS),
            double_pledge_assets=conform(self.double_pledge_assets, DOUBLE_PLEDGE),
        )

    def with_frames(self, **frames: pl.LazyFrame) -> BookFrames:
        return replace(self, **frames)


@dataclass(frozen=True, slots=True)
class CoverageParams:
    as_of: date
    include_unperfected: bool = False
    expiring_within_days: int = 60
    # (valuation currency, loan currency) -> units of the loan currency per unit of the valuation currency.
    fx_rates: Mapping[tuple[str, str], Decimal] | None = None

    def __post_init__(self) -> None:
        if self.expiring_within_days < 0:
            raise CoverageInputError("expiring_within_days must not be negative")
        for pair, rate in (self.fx_rates or {}).items():
            if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
                raise CoverageInputError(f"fx rate {pair[0]}->{pair[1]} must be a positive Decimal, not {rate!r}")
