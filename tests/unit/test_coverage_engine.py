"""The coverage engine on a hand-worked book: every figure below is worked out by hand in the comments.

Amounts are CNY minor units (fen) unless said. as_of = 2026-06-30. Policies: real_estate haircut 0.30,
revaluation 365 days, max LTV 0.70; vehicle 0.40, 180 days, 0.50; equipment 0.50, 365 days, 0.60.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from valuation.coverage import BookFrames, CoverageParams, MissingFxRates, WhatIfError, compute_coverage
from valuation.coverage.refs import RefBook, key_book
from valuation.coverage.restructuring import (
    AddLien,
    CapitaliseInterest,
    ReleaseLien,
    SetBalance,
    SubstituteAsset,
    apply_changes,
    diff,
)
from valuation.coverage.shocks import RegionShock, value_shocks

pytestmark = pytest.mark.unit

AS_OF = date(2026, 6, 30)


def t(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


LOANS = [  # loan_id, borrower, currency, principal, interest, status -> exposure (step 1)
    ("L1", "B1", "CNY", 60_000, 5_000, "overdue"),  # 65,000
    ("L2", "B1", "CNY", 30_000, 0, "performing"),  # 30,000
    ("L3", "B2", "CNY", 10_000, 0, "performing"),  # 10,000
    ("L4", "B2", "CNY", 20_000, 0, "performing"),  # 20,000
    ("L5", "B3", "CNY", 50_000, 0, "settled"),  # no exposure: leaves the report
    ("L7", "B4", "CNY", 40_000, 0, "non_performing"),  # 40,000
    ("L8", "B5", "CNY", 100, 0, "performing"),  # 100
    ("L9", "B5", "CNY", 100, 0, "performing"),  # 100
    ("L11", "B6", "CNY", 10_000, 0, "performing"),  # 10,000
]
ASSETS = [
    ("A1", "real_estate", "active"),
    ("A2", "vehicle", "seized"),
    ("A3", "equipment", "active"),
    ("A5", "real_estate", "active"),
    ("A8", "real_estate", "active"),
    ("A9", "real_estate", "active"),
]
VALUATIONS = [  # step 2: latest approved on or before as_of, times (1 - haircut)
    ("A1", date(2025, 1, 1), 200_000, "approved"),  # older: superseded
    ("A1", date(2026, 1, 1), 100_000, "approved"),  # -> 70,000; 180 days old, not stale
    ("A1", date(2026, 5, 1), 500_000, "submitted"),  # not approved: ignored
    ("A1", date(2026, 7, 5), 900_000, "approved"),  # after as_of: ignored
    ("A2", date(2025, 10, 1), 50_000, "approved"),  # -> 30,000; 272 days > 180: stale
    ("A5", date(2026, 2, 1), 10, "approved"),  # -> 7
    ("A8", date(2026, 6, 1), 100_000, "approved"),  # -> 70,000
    ("A9", date(2026, 6, 1), 100_000, "approved"),  # -> 70,000
]  # A3 has none: value 0, no_valuation
LIENS = [  # lien_id, asset, holder, status, perfected_at, cap, external_claim, expires_on, loans
    ("X1", "A1", "Bank Z", "registered", t(2020, 1, 1), None, 20_000, None, []),  # rank 1, claim 20,000
    ("K1", "A1", "own", "registered", t(2021, 1, 1), 45_000, None, date(2026, 8, 1), ["L1", "L2"]),  # rank 2
    ("K2", "A1", "own", "registered", t(2021, 1, 1), None, None, None, ["L3"]),  # equal time: rank 2 too
    ("K4", "A1", "own", "released", t(2019, 1, 1), None, None, None, ["L4"]),  # never counts
    ("K5", "A2", "own", "registered", t(2022, 5, 5), 25_000, None, None, ["L1"]),  # rank 1, claim 25,000
    ("K3", "A2", "own", "submitted", None, None, None, None, ["L4"]),  # counts only with include_unperfected
    ("K6", "A3", "own", "registered", t(2022, 1, 1), None, None, None, ["L7"]),
    ("K7", "A3", "own", "expired", t(2015, 1, 1), None, None, None, ["L7"]),  # never counts
    ("T1", "A5", "own", "registered", t(2023, 3, 3), None, None, None, ["L8"]),
    ("T2", "A5", "own", "registered", t(2023, 3, 3), None, None, None, ["L9"]),
    ("K11", "A8", "own", "registered", t(2024, 1, 1), None, None, None, ["L11"]),
    ("K12", "A9", "own", "registered", t(2024, 1, 1), None, None, None, ["L11"]),
]


def ref_book(
    extra_loans: list[tuple[str, str, str, int, int, str]] | None = None,
    extra_valuations: list[tuple[str, date, int, str, str]] | None = None,
    extra_liens: list[tuple[str, str, list[str]]] | None = None,
) -> RefBook:
    loans = LOANS + (extra_loans or [])
    valuations = [(*v[:3], "CNY", v[3]) for v in VALUATIONS] + (extra_valuations or [])
    liens = [(*lien[:8], "CNY") for lien in LIENS]
    links = [(lien[0], loan) for lien in LIENS for loan in lien[8]]
    assets = list(ASSETS)
    for lien_id, asset_id, loan_ids in extra_liens or []:
        currency = next(lo[2] for lo in loans if lo[0] == loan_ids[0])
        liens.append((lien_id, asset_id, "own", "registered", t(2024, 2, 2), None, None, None, currency))
        links += [(lien_id, loan) for loan in loan_ids]
        if asset_id not in {a[0] for a in assets}:
            assets.append((asset_id, "real_estate", "active"))
    return RefBook(
        loans=pl.LazyFrame(
            [(lo[0], lo[1], lo[2], lo[3], lo[4], 0, 0, lo[5]) for lo in loans],
            schema=["loan_id", "borrower_id", "currency", "principal", "interest", "penalty", "fees", "status"],
            orient="row",
        ),
        assets=pl.LazyFrame(assets, schema=["asset_id", "kind", "status"], orient="row"),
        valuations=pl.LazyFrame(
            valuations, schema=["asset_id", "valued_on", "market_value", "currency", "status"], orient="row"
        ),
        policies=pl.LazyFrame(
            {
                "kind": ["real_estate", "vehicle", "equipment"],
                "haircut": ["0.30", "0.40", "0.50"],
                "revaluation_days": [365, 180, 365],
                "max_ltv": ["0.70", "0.50", "0.60"],
            }
        ),
        liens=pl.LazyFrame(
            liens,
            schema={
                "lien_id": pl.String,
                "asset_id": pl.String,
                "holder": pl.String,
                "status": pl.String,
                "perfected_at": pl.Datetime("us", "UTC"),
                "cap": pl.Int64,
                "external_claim": pl.Int64,
                "expires_on": pl.Date,
                "currency": pl.String,
            },
            orient="row",
        ),
        lien_loans=pl.LazyFrame(links, schema=["lien_id", "loan_id"], orient="row"),
        double_pledge_asset_ids=pl.LazyFrame({"asset_id": ["A9"]}),
    )


def loans_of(book: BookFrames, **params: object) -> dict[str, dict[str, object]]:
    result = compute_coverage(book, CoverageParams(as_of=AS_OF, **params))  # type: ignore[arg-type]
    return {row["loan_id"]: row for row in result.per_loan.collect().iter_rows(named=True)}


@pytest.fixture(scope="module")
def book() -> BookFrames:
    return key_book(ref_book())


def test_per_loan_hand_worked(book: BookFrames) -> None:
    loans = loans_of(book)
    assert "L5" not in loans  # settled
    # A1 = 70,000. Rank 1 X1 takes min(70,000, 20,000) = 20,000, R = 50,000. Rank 2 (K1 and K2 share
    # 2021-01-01): claims K1 min(45,000, 65,000 + 30,000) = 45,000, K2 10,000, sum 55,000 > 50,000, so
    # the rank takes 50,000: K1 50,000 x 45/55 = 40,909.09 (floor 40,909, remainder 5,000/55,000),
    # K2 9,090.91 (floor 9,090, remainder 50,000/55,000); one unit left goes to K2: K1 40,909, K2 9,091.
    # K1's 40,909 over L1:L2 = 65,000:30,000: L1 27,990.68 (rem 35,000), L2 12,918.63 (rem 60,000);
    # the one unit left goes to L2: L1 27,990, L2 12,919.
    # A2 = 30,000: K5 claim min(25,000, 65,000) = 25,000 takes it all -> L1 +25,000; 5,000 free equity.
    l1 = loans["L1"]
    assert (l1["exposure"], l1["collateral_value"], l1["covered"], l1["uncovered"]) == (65_000, 52_990, 52_990, 12_010)
    assert l1["ltv"] == pytest.approx(65_000 / 52_990)
    # max_ltv = (27,990 x 0.70 + 25,000 x 0.50) / 52,990 = 32,093 / 52,990
    assert l1["max_ltv"] == pytest.approx(32_093 / 52_990)
    assert l1["breach"] and l1["stale_valuation"] and l1["asset_seized"] and l1["registration_expiring"]
    assert not l1["no_valuation"] and not l1["unperfected"] and l1["ltv_bucket"] == ">100%"
    assert (loans["L2"]["collateral_value"], loans["L2"]["registration_expiring"]) == (12_919, True)  # K1 expires 08-01
    assert loans["L2"]["stale_valuation"] is False
    assert (loans["L3"]["collateral_value"], loans["L3"]["registration_expiring"]) == (9_091, False)
    # L4: its only liens are K3 (submitted, not counted) and K4 (released): nothing, and unperfected.
    l4 = loans["L4"]
    assert (l4["collateral_value"], l4["unperfected"], l4["stale_valuation"], l4["ltv"]) == (0, True, False, None)
    assert l4["ltv_bucket"] == "uncovered" and l4["breach"]
    # L7: A3 has no approved valuation -> value 0; K7 is expired, so L7 also has an own lien that is
    # neither registered nor released.
    l7 = loans["L7"]
    assert (l7["collateral_value"], l7["no_valuation"], l7["unperfected"], l7["breach"]) == (0, True, True, True)
    # A5 = floor(10 x 0.70) = 7 split between T1 and T2 (equal time, equal claims 100): 3.5 each, floors
    # 3 and 3 with equal remainders; the unit left goes to the smaller lien_id, T1. L8 4, L9 3.
    assert (loans["L8"]["collateral_value"], loans["L9"]["collateral_value"]) == (4, 3)
    # Reachable value (LTV's denominator): a lien's share plus what its rank leaves, within its cap. A1's
    # rank 2 takes all that is left (surplus 0) and A5's takes all 7; A2 leaves 5,000 after K5, but K5's
    # cap 25,000 is reached: L1 reaches 27,990 + 25,000 = 52,990, as much as it holds.
    assert l1["reachable_value"] == 52_990
    assert [loans[x]["reachable_value"] for x in ("L2", "L3", "L4", "L7", "L8", "L9")] == [12_919, 9_091, 0, 0, 4, 3]
    # L11: two assets, each uncapped lien claims the whole 10,000 and gets it: collateral 20,000. Each
    # lien also reaches the 60,000 its asset keeps beyond the claim (no cap): reachable 140,000, LTV
    # 10,000 / 140,000 = 1/14 (the <=50% bucket, decided on integers), max LTV 0.70, no breach; A9 overlaps
    # a parcel.
    l11 = loans["L11"]
    assert (l11["collateral_value"], l11["covered"], l11["reachable_value"]) == (20_000, 10_000, 140_000)
    assert (l11["ltv"], l11["max_ltv"]) == (pytest.approx(1 / 14), pytest.approx(0.7))
    assert (l11["ltv_bucket"], l11["breach"], l11["possible_double_pledge"]) == ("<=50%", False, True)


def test_include_unperfected_ranks_submitted_liens_last(book: BookFrames) -> None:
    # A2 = 30,000: K5 (registered, rank 1) takes 25,000; K3 (submitted, rank 2) takes the 5,000 left.
    loans = loans_of(book, include_unperfected=True)
    l4 = loans["L4"]
    assert (l4["collateral_value"], l4["unperfected"], l4["stale_valuation"], l4["asset_seized"]) == (
        5_000,
        True,
        True,
        True,
    )
    assert loans["L1"]["collateral_value"] == 52_990  # unchanged: the submitted lien ranks after K5


def test_contributions_explain_each_share(book: BookFrames) -> None:
    result = compute_coverage(book, CoverageParams(as_of=AS_OF))
    rows = result.contributions.sort("loan_id", "lien_id").collect()
    k1 = (
        rows.filter(pl.col("lien_id") == "K1")
        .select(
            "loan_id", "rank", "asset_value_after_haircut", "prior_ranks_took", "lien_claim", "lien_share", "loan_share"
        )
        .rows()
    )
    assert k1 == [("L1", 2, 70_000, 20_000, 45_000, 40_909, 27_990), ("L2", 2, 70_000, 20_000, 45_000, 40_909, 12_919)]
    # Step 5 never hands out more than an asset is worth: A1 gives 20,000 (X1) + 50,000, A2 25,000.
    per_asset = rows.group_by("asset_id").agg(pl.col("lien_share").unique().sum()).sort("asset_id").rows()
    assert per_asset == [("A1", 50_000), ("A2", 25_000), ("A3", 0), ("A5", 7), ("A8", 10_000), ("A9", 10_000)]


def test_rollups_per_bucket_borrower_kind_and_portfolio(book: BookFrames) -> None:
    result = compute_coverage(book, CoverageParams(as_of=AS_OF))
    buckets = dict(result.per_ltv_bucket.select("ltv_bucket", "loans").collect().rows())
    # >100%: L1 (1.23), L2 (2.32), L3 (1.10), L8 (25.0), L9 (33.3); uncovered: L4, L7; <=50%: L11.
    assert buckets == {"<=50%": 1, "50-70%": 0, "70-90%": 0, "90-100%": 0, ">100%": 5, "uncovered": 2}
    total = result.portfolio.collect().row(0, named=True)
    # exposure 65,000 + 30,000 + 10,000 + 20,000 + 40,000 + 100 + 100 + 10,000 = 175,200
    # collateral 52,990 + 12,919 + 9,091 + 0 + 0 + 4 + 3 + 20,000 = 95,007; covered caps L11 at 10,000.
    assert (total["currency"], total["loans"], total["exposure"], total["collateral_value"], total["covered"]) == (
        "CNY",
        8,
        175_200,
        95_007,
        85_007,
    )
    assert total["breaches"] == 7  # all but L11
    b1 = result.per_borrower.filter(pl.col("borrower_id") == "B1").collect().row(0, named=True)
    assert (b1["exposure"], b1["collateral_value"]) == (95_000, 65_909)
    kinds = dict(result.per_asset_kind.select("kind", "collateral_value").collect().rows())
    # vehicle: K5's 25,000; equipment: 0; real_estate: 27,990 + 12,919 + 9,091 + 7 + 20,000 = 70,007
    assert kinds == {"equipment": 0, "real_estate": 70_007, "vehicle": 25_000}


def test_mixed_currency_needs_every_rate_and_converts() -> None:
    # A USD loan L6 ($10.00 = 1,000 cents) under a lien on CNY-valued A1... and a CNY loan L12 under a lien
    # on A10, valued in USD: two pairs needed, both listed when missing.
    refs = ref_book(
        extra_loans=[("L6", "B7", "USD", 1_000, 0, "performing"), ("L12", "B8", "CNY", 50_000, 0, "performing")],
        extra_valuations=[("A10", date(2026, 6, 1), 10_000, "USD", "approved")],
        extra_liens=[("U1", "A8", ["L6"]), ("U2", "A10", ["L12"])],
    )
    book = key_book(refs)
    with pytest.raises(MissingFxRates) as caught:
        compute_coverage(book, CoverageParams(as_of=AS_OF))
    assert caught.value.pairs == [("CNY", "USD"), ("USD", "CNY")]
    rates = {("CNY", "USD"): Decimal("0.14"), ("USD", "CNY"): Decimal("7.1")}
    loans = loans_of(book, fx_rates=rates)
    # A10 = $100.00 x 0.70 = 7,000 cents; U2's claim 50,000 fen = ceil(50,000 / 7.1) = 7,043 cents > 7,000,
    # so U2 takes 7,000 cents = 49,700 fen.
    assert loans["L12"]["collateral_value"] == 49_700
    # A8 = 70,000 fen, K11 (2024-01-01) first takes 10,000; U1 (2024-02-02) claims $10.00 = ceil(1,000 /
    # 0.14) = 7,143 fen, met in full; back in dollars floor(7,143 x 0.14) = 1,000.02 -> 1,000, capped at
    # the claim: $10.00.
    assert loans["L6"]["collateral_value"] == 1_000
    totals = dict(
        compute_coverage(book, CoverageParams(as_of=AS_OF, fx_rates=rates))
        .portfolio.select("currency", "exposure")
        .collect()
        .rows()
    )
    assert totals == {"CNY": 225_200, "USD": 1_000}  # one row per currency, never mixed


def test_stress_shock_by_kind_and_region(book: BookFrames) -> None:
    asset_key = dict(book.assets.select("asset_id", "asset_key").collect().rows())
    shocks = value_shocks(
        book.assets,
        {"vehicle": Decimal("0.5")},
        [RegionShock([asset_key["A1"]], Decimal("0.9"), kinds=["real_estate"])],
    )
    loans = {
        r["loan_id"]: r
        for r in compute_coverage(book, CoverageParams(as_of=AS_OF), shocks=shocks)
        .per_loan.collect()
        .iter_rows(named=True)
    }
    # A2: 30,000 x 0.5 = 15,000, all to K5 (claim 25,000). A1: 70,000 x 0.9 = 63,000; X1 20,000, rank 2
    # takes 43,000 over 45,000:10,000: K1 35,181.8 (rem 45,000), K2 7,818.2 (rem 10,000) -> K1 35,182,
    # K2 7,818. K1 over L1:L2 = 65:30: 24,072.05 (rem 5,000), 11,109.47 (rem 45,000) -> 24,072 / 11,110.
    assert (loans["L1"]["collateral_value"], loans["L2"]["collateral_value"], loans["L3"]["collateral_value"]) == (
        24_072 + 15_000,
        11_110,
        7_818,
    )


def test_what_if_changes_and_diff(book: BookFrames) -> None:
    before = compute_coverage(book, CoverageParams(as_of=AS_OF))
    changed = apply_changes(
        book,
        [
            CapitaliseInterest("L1", 2_000),  # L1: principal 62,000, interest 3,000: exposure unchanged
            SetBalance("L3", principal=5_000),  # L3 exposure 5,000
            ReleaseLien("X1"),  # the other creditor's prior lien is gone
            AddLien("N1", "A8", ["L7"], perfected_at=t(2025, 1, 1)),  # A8 free equity 60,000 -> L7 40,000
            SubstituteAsset("K12", "A5"),  # L11's second lien moves from A9 to A5
        ],
    )
    loan = changed.loans.filter(pl.col("loan_id") == "L1").collect().row(0, named=True)
    assert (loan["principal"], loan["interest"]) == (62_000, 3_000)
    after = compute_coverage(changed, CoverageParams(as_of=AS_OF))
    loans = {r["loan_id"]: r for r in after.per_loan.collect().iter_rows(named=True)}
    # A1 = 70,000 now all for rank 1 (K1 45,000 + K2 5,000 = 50,000): both in full. L1 gets 45,000 x
    # 65/95 = 30,789.47 (rem 45,000), L2 14,210.53 (rem 50,000) -> 30,789 / 14,211; L1 + 25,000 from A2.
    assert (loans["L1"]["collateral_value"], loans["L2"]["collateral_value"], loans["L3"]["collateral_value"]) == (
        55_789,
        14_211,
        5_000,
    )
    # L7: A8 = 70,000; K11 (2024, rank 1) takes its 10,000, N1 (2025, rank 2) its 40,000, and 20,000
    # stays free, which N1 (uncapped) reaches too: LTV 40,000 / 60,000 = 0.67 <= 0.70, the breach clears.
    assert (loans["L7"]["collateral_value"], loans["L7"]["reachable_value"]) == (40_000, 60_000)
    assert not loans["L7"]["breach"]
    # A5 = 7: T1, T2 (2023-03-03) rank 1 take 7 on claims 100:100 -> 4 / 3; K12 (2024) ranks after: 0.
    # L11 keeps only A8's 10,000, but K11 reaches all 70,000 of A8 (what N1 takes ranks after it): LTV
    # 10,000 / 70,000, still clear; its collateral value halves.
    assert (loans["L11"]["collateral_value"], loans["L11"]["reachable_value"]) == (10_000, 70_000)
    changes = diff(before, after, ["L7", "L3"]).collect()
    by_loan = {r["loan_id"]: r for r in changes.iter_rows(named=True)}
    # L3 shares A1 with L1 and L2; L7 had A3 and now A8, which L11 had too.
    assert set(by_loan) == {"L1", "L2", "L3", "L7", "L11"}
    assert by_loan["L7"]["breach_change"] == "clears" and by_loan["L7"]["touched"]
    assert by_loan["L11"]["breach_change"] is None
    assert (by_loan["L11"]["collateral_value_before"], by_loan["L11"]["collateral_value_after"]) == (20_000, 10_000)
    assert (by_loan["L3"]["exposure_before"], by_loan["L3"]["exposure_after"]) == (10_000, 5_000)
    assert by_loan["L1"]["touched"] is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (CapitaliseInterest("L1", 5_001), "interest outstanding is 5000"),
        (CapitaliseInterest("nope"), "unknown loan 'nope'"),
        (SetBalance("L1", fees=-1), "cannot be negative"),
        (ReleaseLien("K4"), "already released"),
        (ReleaseLien("nope"), "unknown lien 'nope'"),
        (AddLien("K1", "A1", ["L1"], perfected_at=t(2025, 1, 1)), "already exists"),
        (AddLien("N1", "A404", ["L1"], perfected_at=t(2025, 1, 1)), "unknown asset 'A404'"),
        (AddLien("N1", "A1", ["L1", "L404"], perfected_at=t(2025, 1, 1)), "unknown loan(s) L404"),
        (SubstituteAsset("K1", "A1"), "already on asset"),
        (SubstituteAsset("K1", "A404"), "unknown asset"),
    ],
)
def test_what_if_refusals(book: BookFrames, change: object, reason: str) -> None:
    with pytest.raises(WhatIfError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        apply_changes(book, [change])  # type: ignore[list-item]


def test_a_lien_released_twice_is_refused(book: BookFrames) -> None:
    with pytest.raises(WhatIfError, match="already released"):
        apply_changes(book, [ReleaseLien("K1"), ReleaseLien("K1")])
