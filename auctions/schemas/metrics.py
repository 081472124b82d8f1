"""Shapes of the recovery metrics."""

from __future__ import annotations

import msgspec


class MetricsRow(msgspec.Struct):
    group: str
    currency: str
    cases: int
    settled: int
    recovery_rate: str | None
    discount_to_appraisal: str | None
    days_to_settlement: float | None
    rounds_to_sale: float | None
    failed_round_rate: str | None
    rounds_held: int
    failed_rounds: int
    paid_to_own_loans: str
    exposure_settled: str
    forfeited_deposits: str


class MetricsRead(msgspec.Struct):
    by: str
    rows: list[MetricsRow]
