"""Loans newly in breach since the book's last approved revaluation (DESIGN 9): in breach now, and not the day before
the latest approved valuation date. Both sides come from the coverage cache, so the comparison is one anti-join."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from piccolo.query.functions.aggregate import Max

from valuation.services.coverage_runs import compute, in_thread
from valuation.tables import Valuation


async def last_revaluation_day(today: date) -> date | None:
    row = (
        await Valuation.select(Max(Valuation.valued_on, alias="day"))
        .where((Valuation.status == "approved") & (Valuation.valued_on <= today))
        .first()
    )
    day = row["day"] if row else None
    return date.fromisoformat(day) if isinstance(day, str) else day


async def newly_in_breach(today: date) -> tuple[date | None, list[str]]:
    """(the last revaluation's day, the loans in breach now that were not on the day before it, by ref)."""
    day = await last_revaluation_day(today)
    if day is None:
        return None, []
    now = await compute(today, False)
    before = await compute(day - timedelta(days=1), False)

    def news() -> list[str]:
        in_breach_then = before.per_loan.filter(pl.col("breach")).select("loan_id")
        newly = now.per_loan.filter(pl.col("breach")).select("loan_id").join(in_breach_then, on="loan_id", how="anti")
        return newly.sort("loan_id").collect()["loan_id"].to_list()

    return day, await in_thread(news)
