"""Valuations and the policies that judge them (DESIGN section 5).

Ratios (haircut, max LTV) are kept as decimal text: exact on both engines (SQLite has no exact
numeric type), and the coverage engine casts them to Polars decimals once per run."""

from __future__ import annotations

from piccolo.columns import BigInt, Date, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table

from registry.tables import Asset


class Policy(Table):
    id = Serial(primary_key=True)
    kind = Varchar(length=24, unique=True)  # asset kind
    haircut = Varchar(length=24)  # "0.30" = value counted at 70%
    revaluation_days = Integer()
    max_ltv = Varchar(length=24)  # "0.70"


class Valuation(Table):
    id = Serial(primary_key=True)
    asset = ForeignKey(references=Asset)  # led by the unique (asset, valued_on, method) index
    valued_on = Date()  # served by the unique (asset, valued_on, method) index
    market_value = BigInt()
    forced_sale_value = BigInt(null=True, default=None)
    currency = Varchar(length=3)
    method = Varchar(length=24)
    appraiser = Varchar(length=255, default="")
    status = Varchar(length=16, default="submitted", index=True)
    submitted_by = Varchar(length=64, default="")
    submitted_at = Timestamptz()
    decided_by = Varchar(length=64, null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    reason = Text(default="")


TABLES: list[type[Table]] = [Policy, Valuation]
