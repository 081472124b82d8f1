"""Random coverage books for the oracle tests, built as the engine's frames directly so that their keys can
be dense, have gaps, or come in any order, and any table can be empty.

A book mixes three currencies (JPY has no minor digits, so conversions scale by 100 as well as by the
rate), liens of every status, caps, other creditors' claims, stress multipliers, a policy that may be
missing, and amounts from a few units up to the Int64 limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from hypothesis import strategies as st

from valuation.coverage.frames import (
    ASSETS,
    DOUBLE_PLEDGE,
    LIEN_LOANS,
    LIENS,
    LOANS,
    POLICIES,
    SHOCKS,
    VALUATIONS,
    BookFrames,
    CoverageParams,
)

AS_OF = date(2026, 6, 30)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CURRENCIES = ("CNY", "CNY", "USD", "JPY")
RATES = {
    ("CNY", "USD"): Decimal("0.14084507"),
    ("USD", "CNY"): Decimal("7.1"),
    ("JPY", "CNY"): Decimal("0.0478"),
    ("CNY", "JPY"): Decimal("20.92"),
    ("USD", "JPY"): Decimal("151.37"),
    ("JPY", "USD"): Decimal("0.0066"),
}
LIEN_STATUSES = ("registered",) * 5 + ("submitted", "draft", "released", "expired", "rejected")
POLICY_ROWS = {
    "real_estate": (Decimal("0.25"), 365, Decimal("0.7")),
    "vehicle": (Decimal("0.4"), 180, Decimal("0.55")),
    "equipment": (Decimal("0.333333333333"), 365, Decimal("0.6")),
}


@dataclass(frozen=True)
class Drawn:
    book: BookFrames
    params: CoverageParams
    shocks: pl.LazyFrame | None
    magnitude: str
    order: str


def _frame(rows: list[tuple[Any, ...]], schema: dict[str, pl.DataType]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema=schema, orient="row")


@st.composite
def _keys(draw: st.DrawFn, n: int, order: str) -> list[int]:
    """n distinct keys: dense from an offset, increasing with gaps, or in any order."""
    offset = draw(st.integers(-1000, 10**6))
    if order == "dense":
        return list(range(offset, offset + n))
    keys = draw(st.lists(st.integers(-(10**6), 10**9), min_size=n, max_size=n, unique=True))
    return sorted(keys) if order == "gaps" else keys


@st.composite
def books(draw: st.DrawFn) -> Drawn:
    magnitude = draw(st.sampled_from(["small", "small", "large", "huge", "wide", "edge"]))
    if magnitude == "edge":  # now and then an amount near the Int64 limit
        money = st.one_of(st.integers(0, 10**6), st.integers(2**61, 2**63 - 1))
    elif magnitude == "wide":  # sums past 2^62 (Int128 money) whose outputs mostly still fit Int64
        money = st.integers(2**59, 2**61)
    else:
        money = st.integers(0, {"small": 10**6, "large": 2**40, "huge": 2**61}[magnitude])
    order = draw(st.sampled_from(["dense", "gaps", "any"]))
    empty = draw(st.sampled_from([None] * 10 + ["loans", "assets", "liens", "valuations", "policies"]))
    n_loans = 0 if empty == "loans" else draw(st.integers(1, 6))
    n_assets = 0 if empty == "assets" else draw(st.integers(1, 4))
    n_liens = 0 if empty in ("liens", "assets") else draw(st.integers(1, 8))
    loan_keys, asset_keys = draw(_keys(n_loans, order)), draw(_keys(n_assets, order))
    lien_keys = draw(_keys(n_liens, order))
    currency = st.sampled_from(CURRENCIES)

    loans = [
        (
            key,
            f"L{i}",
            f"B{i % 2}",
            draw(currency),
            draw(money),
            draw(money),
            draw(st.integers(0, 3)),
            draw(st.integers(0, 3)),
            draw(st.sampled_from(["performing", "performing", "overdue", "settled", "written_off"])),
        )
        for i, key in enumerate(loan_keys)
    ]
    kinds = st.sampled_from(["real_estate", "real_estate", "vehicle", "equipment"])
    assets = [
        (key, f"A{i}", draw(kinds), draw(st.sampled_from(["active", "seized", "in_disposal"])))
        for i, key in enumerate(asset_keys)
    ]
    days = st.sampled_from([-400, 0, 0, 90, 300])  # 2026-01-01 plus these; as_of is 2026-06-30
    valuations = [
        (
            draw(st.sampled_from(asset_keys)),
            date(2026, 1, 1) + timedelta(days=draw(days)),
            draw(st.one_of(money, money, money, st.none())),
            draw(currency),
            draw(st.sampled_from(["approved", "approved", "rejected"])),
        )
        for _ in range(0 if empty == "valuations" or not asset_keys else draw(st.integers(1, 6)))
    ]
    every_kind = ("real_estate", "vehicle", "equipment")
    kinds_with_policy = () if empty == "policies" else draw(st.sampled_from([every_kind] * 9 + [every_kind[:2]]))
    policies = [(kind, *POLICY_ROWS[kind]) for kind in kinds_with_policy]
    liens, links = [], []
    for i, key in enumerate(lien_keys):
        own = draw(st.sampled_from([True, True, False]))
        status = draw(st.sampled_from(LIEN_STATUSES))
        lien_currency = draw(currency)
        if own and loans:
            first = draw(st.sampled_from(loans))
            lien_currency = first[3]
            mixed = draw(st.integers(0, 40)) == 0  # now and then a loan in another currency: refused
            pool = [lo[0] for lo in loans if mixed or lo[3] == lien_currency]
            links += [(key, loan) for loan in {first[0]} | draw(st.sets(st.sampled_from(pool)))]
        liens.append(
            (
                key,
                f"K{i}",
                draw(st.sampled_from(asset_keys)),
                "own" if own else "Z",
                status,
                None
                if status == "draft" or draw(st.integers(0, 9)) == 0
                else T0 + timedelta(days=draw(st.integers(0, 2))),
                draw(st.one_of(st.none(), money)) if own else None,
                None if own else draw(st.one_of(money, st.none())),
                draw(st.one_of(st.none(), st.sampled_from([date(2026, 7, 1), date(2027, 1, 1)]))),
                lien_currency,
            )
        )
    if order == "any":
        links = list(draw(st.permutations(links)))
    double = draw(st.sets(st.sampled_from(asset_keys))) if asset_keys else set()
    shocks = None
    if draw(st.booleans()) and asset_keys:
        multipliers = st.sampled_from(
            [Decimal(0), Decimal("0.5"), Decimal("0.8"), Decimal(1), Decimal("1.5"), Decimal(11)]
        )
        # Two multipliers for one asset now and then: the first one counts.
        shocks = _frame(
            [(draw(st.sampled_from(asset_keys)), draw(multipliers)) for _ in range(draw(st.integers(1, 4)))], SHOCKS
        )
    rates = draw(st.sampled_from(["all"] * 8 + ["some", "none"]))
    fx_rates = RATES if rates == "all" else None if rates == "none" else dict(list(RATES.items())[::2])
    params = CoverageParams(
        as_of=AS_OF,
        include_unperfected=draw(st.booleans()),
        expiring_within_days=draw(st.sampled_from([0, 60])),
        fx_rates=fx_rates,
    )
    book = BookFrames(
        loans=_frame(loans, LOANS),
        assets=_frame(assets, ASSETS),
        valuations=_frame(valuations, VALUATIONS),
        policies=_frame(policies, POLICIES),
        liens=_frame(liens, LIENS),
        lien_loans=_frame(links, LIEN_LOANS),
        double_pledge_assets=_frame([(a,) for a in double], DOUBLE_PLEDGE),
    )
    return Drawn(book, params, shocks, magnitude, order)
