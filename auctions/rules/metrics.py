"""Recovery metrics of disposal cases, computed with Polars from plain rows. Pure.

Sums stay in integer minor units per currency (no total adds currencies); ratios are formed once per group
from those integer sums and returned as exact decimal strings, so "recovery 0.8312" is Σ paid ÷ Σ exposure
and never an average of per-case ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import polars as pl

Grouping = Literal["asset_kind", "profile", "month", "all"]
GROUPINGS: tuple[Grouping, ...] = ("asset_kind", "profile", "month", "all")


@dataclass(frozen=True, slots=True)
class CaseFigures:
    case_ref: str
    currency: str
    profile: str
    asset_kind: str  # the kind of the lot's largest appraisal
    opened_on: date
    settled_on: date | None
    appraisal: int
    exposure_at_open: int
    sale_price: int | None
    paid_to_own_loans: int
    rounds_held: int
    failed_rounds: int
    forfeited_deposits: int


SCHEMA = {
    "case_ref": pl.String,
    "currency": pl.String,
    "profile": pl.String,
    "asset_kind": pl.String,
    "opened_on": pl.Date,
    "settled_on": pl.Date,
    "appraisal": pl.Int64,
    "exposure_at_open": pl.Int64,
    "sale_price": pl.Int64,
    "paid_to_own_loans": pl.Int64,
    "rounds_held": pl.Int64,
    "failed_rounds": pl.Int64,
    "forfeited_deposits": pl.Int64,
}


def _ratio(num: int | None, den: int | None, places: int = 4) -> str | None:
    if not den or num is None:
        return None
    q = Decimal(10) ** -places
    return str((Decimal(num) / Decimal(den)).quantize(q, rounding=ROUND_HALF_EVEN))


def metrics(cases: Sequence[CaseFigures], by: Grouping) -> list[dict[str, Any]]:
    frame = pl.LazyFrame([_row(c) for c in cases], schema=SCHEMA)
    settled = pl.col("settled_on").is_not_null()
    keyed = frame.with_columns(
        group=(
            pl.lit("all")
            if by == "all"
            else pl.coalesce("settled_on", "opened_on").dt.strftime("%Y-%m")
            if by == "month"
            else pl.col(by)
        )
    )
    grouped = (
        keyed.group_by("group", "currency")
        .agg(
            cases=pl.len(),
            settled=settled.sum(),
            exposure_settled=pl.col("exposure_at_open").filter(settled).sum(),
            paid_to_own_loans=pl.col("paid_to_own_loans").filter(settled).sum(),
            appraisal_sold=pl.col("appraisal").filter(settled & pl.col("sale_price").is_not_null()).sum(),
            sale_price=pl.col("sale_price").filter(settled).sum(),
            days_to_settlement=(pl.col("settled_on") - pl.col("opened_on")).dt.total_days().filter(settled).mean(),
            rounds_to_sale=pl.col("rounds_held").filter(settled).mean(),
            rounds_held=pl.col("rounds_held").sum(),
            failed_rounds=pl.col("failed_rounds").sum(),
            forfeited_deposits=pl.col("forfeited_deposits").sum(),
        )
        .sort("group", "currency")
        .collect()
    )
    out: list[dict[str, Any]] = []
    for row in grouped.iter_rows(named=True):
        discount = _ratio(row["sale_price"], row["appraisal_sold"])
        out.append(
            {
                "group": row["group"],
                "currency": row["currency"],
                "cases": row["cases"],
                "settled": row["settled"],
                "recovery_rate": _ratio(row["paid_to_own_loans"], row["exposure_settled"]),
                "discount_to_appraisal": None if discount is None else str(Decimal(1) - Decimal(discount)),
                "days_to_settlement": None
                if row["days_to_settlement"] is None
                else round(float(row["days_to_settlement"]), 1),
                "rounds_to_sale": None if row["rounds_to_sale"] is None else round(float(row["rounds_to_sale"]), 2),
                "failed_round_rate": _ratio(row["failed_rounds"], row["rounds_held"]),
                "rounds_held": row["rounds_held"],
                "failed_rounds": row["failed_rounds"],
                "paid_to_own_loans": row["paid_to_own_loans"],
                "exposure_settled": row["exposure_settled"],
                "forfeited_deposits": row["forfeited_deposits"],
            }
        )
    return out


def _row(c: CaseFigures) -> dict[str, Any]:
    return {name: getattr(c, name) for name in SCHEMA}
