"""Per-borrower coverage, stress scenarios and restructuring what-ifs over HTTP, on a book built through the
API, as of 2026-11-01, on whichever engine the run uses.

The book (amounts in fen; real estate: haircut 0.30, max LTV 0.70; vehicles: 0.50 and 0.50):
  L1 (P1) 1,000.00; L2 (P2) 1,000.00; L3 (P2) 500.00; L4 (P1) USD 100.00, unsecured.
  A1 real estate, parcel at 121.000E 31.000N, worth 5,000.00 -> 350,000 after the haircut.
  A2 real estate, parcel at 121.010E, worth 5,000.00 -> 350,000.  A3 vehicle, 2,000.00 -> 100,000.
  M1: A1 for L1 (2026-01-05).  M2: A2 for L1 (2026-01-05).  M3: A2 for L2 and L3 (2026-01-06, rank 2).
  M4: A3 for L3 (2026-01-05).
Base: L1 gets 100,000 from A1 and 100,000 from A2 (rank 1): 200,000. A2 leaves 250,000 for M3, claim
  150,000: L2 100,000, L3 50,000; L3 also 50,000 from A3: 100,000.
LTV is measured against the reachable value: each uncapped lien's share plus what its rank leaves free.
  M1 reaches all of A1 (350,000), M2 all of A2 (350,000: M3 ranks after it): L1 700,000, LTV 1/7.
  M3 reaches the 250,000 left after rank 1 (100,000 free after its claim), split 2:1 -> L2 166,666.67,
  L3 83,333.33 (the cent to L2's larger remainder): L2 166,667, LTV 0.599999 <= 0.70.
  M4 reaches all of A3 (100,000): L3 183,333, LTV 0.272728, max LTV (83,333 x 0.70 + 100,000 x 0.50) /
  183,333 = 0.590909. No CNY loan is in breach; L4 (USD, unsecured) is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.roles import Role
from registry.tables import AuditEvent
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

AS_OF = "2026-11-01"


def _square(lon: float, lat: float, side: float = 0.001) -> dict[str, Any]:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    admin = as_role(Role.ADMIN)
    for kind, haircut, max_ltv in (("real_estate", "0.30", "0.70"), ("vehicle", "0.50", "0.50")):
        r = await client.put(
            f"/api/policies/{kind}",
            headers=admin,
            json={"haircut": haircut, "revaluation_days": 365, "max_ltv": max_ltv},
        )
        assert r.status_code == 200, r.text
    await b.party("P1")
    await b.party("P2")
    await b.loan("L1", "P1", principal="1000.00")
    await b.loan("L2", "P2", principal="1000.00")
    await b.loan("L3", "P2", principal="500.00")
    await b.loan("L4", "P1", principal="100.00", currency="USD")
    await b.asset("A1", geometry=_square(121.0, 31.0))
    await b.asset("A2", geometry=_square(121.01, 31.0))
    await b.asset("A3", kind="vehicle")
    for asset, value in (("A1", "5000.00"), ("A2", "5000.00"), ("A3", "2000.00")):
        await b.valuation(asset, value, admin)
    await b.lien("M1", asset="A1", loans=["L1"])
    await b.lien("M2", asset="A2", loans=["L1"])
    await b.lien("M3", asset="A2", loans=["L2", "L3"])
    await b.lien("M4", asset="A3", loans=["L3"])
    for lien, day in (("M1", 5), ("M2", 5), ("M3", 6), ("M4", 5)):
        await b.register(lien, datetime(2026, 1, day, 2, 0, tzinfo=UTC))
    return b


def _by_loan(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["loan_id"]: r for r in rows}


async def _audit_events() -> int:
    return await AuditEvent.count()


async def test_the_base_book_per_loan_and_per_borrower(client, as_role, book: Book) -> None:
    headers = as_role(Role.AUDITOR)
    loans = _by_loan((await client.get(f"/api/coverage/loans?as_of={AS_OF}", headers=headers)).json()["items"])
    assert {k: (v["collateral_value"], v["ltv"], v["max_ltv"], v["breach"]) for k, v in loans.items()} == {
        "L1": ("2000.00", "0.142857", "0.700000", False),
        "L2": ("1000.00", "0.599999", "0.700000", False),
        "L3": ("1000.00", "0.272728", "0.590909", False),
        "L4": ("0.00", None, None, True),
    }
    assert [loans[x]["reachable_value"] for x in ("L1", "L2", "L3", "L4")] == ["7000.00", "1666.67", "1833.33", "0.00"]

    page = await client.get(f"/api/coverage/borrowers?as_of={AS_OF}&page_size=2", headers=headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 3  # P1 in CNY and in USD, P2 in CNY
    assert [(r["borrower_id"], r["currency"]) for r in body["items"]] == [("P1", "CNY"), ("P1", "USD")]
    assert body["items"][0] == {
        "borrower_id": "P1",
        "currency": "CNY",
        "loans": 1,
        "exposure": "1000.00",
        "collateral_value": "2000.00",
        "covered": "1000.00",
        "uncovered": "0.00",
        "coverage_ratio": "2.000000",
        "breaches": 0,
    }
    detail = (await client.get(f"/api/coverage/borrowers/P2?as_of={AS_OF}", headers=headers)).json()
    assert detail["totals"] == [
        {
            "borrower_id": "P2",
            "currency": "CNY",
            "loans": 2,
            "exposure": "1500.00",
            "collateral_value": "2000.00",
            "covered": "1500.00",
            "uncovered": "0.00",
            "coverage_ratio": "1.333333",
            "breaches": 0,
        }
    ]
    assert [loan["loan_id"] for loan in detail["loans"]] == ["L2", "L3"]
    csv = await client.get(f"/api/coverage/borrowers?as_of={AS_OF}&format=csv", headers=headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == (
        "borrower_id,currency,loans,exposure,collateral_value,covered,uncovered,coverage_ratio,breaches"
    )
    assert csv.text.splitlines()[3] == "P2,CNY,2,1500.00,2000.00,1500.00,0.00,1.333333,0"
    assert (await client.get("/api/coverage/borrowers/P9", headers=headers)).status_code == 404


async def test_stress_by_region_hits_only_the_parcel_inside(client, as_role, book: Book) -> None:
    before = await _audit_events()
    around_a1 = _square(120.9995, 30.9995, 0.002)
    r = await client.post(
        "/api/coverage/stress",
        headers=as_role(Role.CREDIT_OFFICER),
        json={"as_of": AS_OF, "by_region": [{"region": around_a1, "change_pct": "-95", "label": "flood plain"}]},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["shocks"] == [{"shock": "region 0 (flood plain)", "multiplier": "0.05", "assets": 1}]
    assert report["assets_shocked"] == 1
    # A1: 350,000 x 0.05 = 17,500, all of it to M1: L1 117,500. M1 reaches no more than that now, M2 still
    # all of A2: 17,500 + 350,000 = 367,500, LTV 0.272109, still clear. Nothing else moves.
    assert report["loans_changed"] == 1 and report["breaches_appearing"] == 0
    (l1,) = report["changed_loans"]
    assert (l1["loan_id"], l1["breach_change"]) == ("L1", None)
    assert (l1["base"]["collateral_value"], l1["stressed"]["collateral_value"]) == ("2000.00", "1175.00")
    assert (l1["base"]["reachable_value"], l1["stressed"]["reachable_value"]) == ("7000.00", "3675.00")
    assert (l1["base"]["ltv_bucket"], l1["stressed"]["ltv_bucket"]) == ("<=50%", "<=50%")
    assert l1["stressed"]["ltv"] == "0.272109"
    cny = next(p for p in report["portfolio"] if p["currency"] == "CNY")
    assert (cny["base"]["collateral_value"], cny["stressed"]["collateral_value"]) == ("4000.00", "3175.00")
    assert (cny["base"]["breaches"], cny["stressed"]["breaches"]) == (0, 0)
    buckets = {
        b["ltv_bucket"]: (b["base"]["loans"], b["stressed"]["loans"])
        for b in report["ltv_buckets"]
        if b["currency"] == "CNY"
    }
    assert buckets == {
        "<=50%": (2, 2),
        "50-70%": (1, 1),
        "70-90%": (0, 0),
        "90-100%": (0, 0),
        ">100%": (0, 0),
        "uncovered": (0, 0),
    }
    assert await _audit_events() == before  # nothing written

    # A region meeting A1 only along its west edge holds no parcel.
    beside = _square(120.999, 31.0, 0.001)
    r = await client.post(
        "/api/coverage/stress",
        headers=as_role(Role.ASSET_MANAGER),
        json={"as_of": AS_OF, "by_region": [{"region": beside, "change_pct": "-95"}]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["assets_shocked"], r.json()["loans_changed"]) == (0, 0)
    # Limited to vehicles, the region around A1 holds nothing either.
    r = await client.post(
        "/api/coverage/stress",
        headers=as_role(Role.ADMIN),
        json={"as_of": AS_OF, "by_region": [{"region": around_a1, "change_pct": "-95", "kinds": ["vehicle"]}]},
    )
    assert r.json()["assets_shocked"] == 0


async def test_stress_by_kind_and_shocks_multiply(client, as_role, book: Book) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.post(
        "/api/coverage/stress?page_size=2",
        headers=headers,
        json={"as_of": AS_OF, "by_kind": [{"kind": "real_estate", "change_pct": "-80"}]},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    # A1 and A2 fall to 70,000 each: M1 and M2 take all of them, M3 nothing and nothing is left free.
    # L1 140,000 (LTV 0.714 > 0.70: breach); L2 0 (breach); L3 keeps A3's 50,000 and reaches its
    # 100,000 (LTV 0.50, not above the vehicle's 0.50: clear).
    assert report["loans_changed"] == 3 and report["breaches_appearing"] == 2
    assert [(x["loan_id"], x["breach_change"]) for x in report["changed_loans"]] == [
        ("L1", "appears"),
        ("L2", "appears"),
    ]
    assert (report["page"], report["page_size"]) == (1, 2)
    rest = (
        await client.post(
            "/api/coverage/stress?page=2&page_size=2",
            headers=headers,
            json={"as_of": AS_OF, "by_kind": [{"kind": "real_estate", "change_pct": "-80"}]},
        )
    ).json()["changed_loans"]
    assert [(x["loan_id"], x["base"]["collateral_value"], x["stressed"]["collateral_value"]) for x in rest] == [
        ("L3", "1000.00", "500.00")
    ]
    assert (rest[0]["stressed"]["ltv"], rest[0]["breach_change"]) == ("0.500000", None)
    # -50% by kind and -50% in the region around A1 meet on A1: 350,000 x 0.25 = 87,500 -> L1 187,500.
    r = await client.post(
        "/api/coverage/stress",
        headers=headers,
        json={
            "as_of": AS_OF,
            "by_kind": [{"kind": "real_estate", "change_pct": "-50"}],
            "by_region": [{"region": _square(120.9995, 30.9995, 0.002), "change_pct": "-50"}],
        },
    )
    changed = _by_loan(r.json()["changed_loans"])
    assert changed["L1"]["stressed"]["collateral_value"] == "1875.00"
    # +1000% is allowed; claims were met in full, so a rise changes no collateral value, but M4 reaches
    # all of A3's 1,100,000: L3's reachable value rises and its LTV falls.
    r = await client.post(
        "/api/coverage/stress",
        headers=headers,
        json={"as_of": AS_OF, "by_kind": [{"kind": "vehicle", "change_pct": "1000"}]},
    )
    assert r.status_code == 200 and r.json()["loans_changed"] == 1
    (l3,) = r.json()["changed_loans"]
    assert (l3["loan_id"], l3["base"]["collateral_value"], l3["stressed"]["collateral_value"]) == (
        "L3",
        "1000.00",
        "1000.00",
    )
    assert (l3["base"]["reachable_value"], l3["stressed"]["reachable_value"]) == ("1833.33", "11833.33")
    assert r.json()["shocks"] == [{"shock": "kind vehicle", "multiplier": "11", "assets": 1}]


@pytest.mark.parametrize(
    ("scenario", "field", "reason"),
    [
        ({"by_kind": [{"kind": "vehicle", "change_pct": "-100.5"}]}, "by_kind[0].change_pct", "between -100%"),
        ({"by_kind": [{"kind": "vehicle", "change_pct": "1000.01"}]}, "by_kind[0].change_pct", "between -100%"),
        ({"by_kind": [{"kind": "vehicle", "change_pct": "ten"}]}, "by_kind[0].change_pct", "not a percentage"),
        (
            {"by_kind": [{"kind": "vehicle", "change_pct": "-1"}, {"kind": "vehicle", "change_pct": "-2"}]},
            "by_kind[1].kind",
            "shocked twice",
        ),
        ({}, "by_kind", "at least one shock"),
        (
            {
                "by_region": [
                    {
                        "change_pct": "-10",
                        "region": {
                            "type": "Polygon",
                            "coordinates": [[[121, 31], [121.01, 31.01], [121.01, 31], [121, 31.01], [121, 31]]],
                        },
                    }
                ]
            },
            "by_region[0].region",
            "Self-intersection",
        ),
        (
            {"by_region": [{"change_pct": "-10", "region": {"type": "Point", "coordinates": [121, 31]}}]},
            "by_region[0].region",
            "",
        ),
    ],
)
async def test_stress_refusals_name_the_field(
    client, as_role, book: Book, scenario: dict[str, Any], field: str, reason: str
) -> None:
    r = await client.post("/api/coverage/stress", headers=as_role(Role.CREDIT_OFFICER), json=scenario)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert field in errors and reason in errors[field], errors


async def test_stress_schema_refusals(client, as_role, book: Book) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    for body in (
        {"by_kind": [{"kind": "castle", "change_pct": "-10"}]},
        {"by_kind": [{"kind": "vehicle", "change_pct": "-10", "extra": 1}]},
        {"by_kind": [{"kind": "vehicle", "change_pct": -10}]},
    ):
        r = await client.post("/api/coverage/stress", headers=headers, json=body)
        assert r.status_code == 422, (body, r.text)
    assert (
        await client.post(
            "/api/coverage/stress",
            headers=as_role(Role.DISPOSAL_OFFICER),
            json={"by_kind": [{"kind": "vehicle", "change_pct": "-10"}]},
        )
    ).status_code == 403


async def test_what_if_release_shows_the_loans_sharing_the_asset(client, as_role, book: Book) -> None:
    before = await _audit_events()
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={"as_of": AS_OF, "changes": [{"type": "release_lien", "lien_id": "M2"}]},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    loans = _by_loan(report["loans"])
    # M2 secured L1 only; L2 and L3 stand on A2 too. L1 keeps A1's 100,000 and reaches all 350,000 of
    # it: LTV 0.285714, still clear. M3 now ranks first on A2 and was met in full already, but reaches all
    # 350,000 now: split 2:1, L2 233,333 and L3 116,667 (the cent to L3's larger remainder).
    assert set(loans) == {"L1", "L2", "L3"}
    assert (loans["L1"]["touched"], loans["L2"]["touched"], loans["L3"]["touched"]) == (True, False, False)
    assert (loans["L1"]["before"]["collateral_value"], loans["L1"]["after"]["collateral_value"]) == (
        "2000.00",
        "1000.00",
    )
    assert (loans["L1"]["after"]["ltv"], loans["L1"]["breach_change"]) == ("0.285714", None)
    assert loans["L2"]["before"]["collateral_value"] == loans["L2"]["after"]["collateral_value"] == "1000.00"
    assert (loans["L2"]["after"]["reachable_value"], loans["L3"]["after"]["reachable_value"]) == (
        "2333.33",
        "2166.67",
    )
    assert (report["breaches_appearing"], report["breaches_clearing"]) == ([], [])
    assert await _audit_events() == before
    # Nothing was written: the lien still counts.
    l1 = (await client.get(f"/api/coverage/loans/L1?as_of={AS_OF}", headers=headers)).json()
    assert l1["loan"]["collateral_value"] == "2000.00"


async def test_what_if_balances_liens_and_substitution(client, as_role, book: Book) -> None:
    headers = as_role(Role.ADMIN)
    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={
            "as_of": AS_OF,
            "changes": [
                {"type": "set_balance", "loan_id": "L3", "principal": "2000.00"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    loans = _by_loan(r.json()["loans"])
    # L3's exposure 200,000: M3's claim 300,000 takes A2's remaining 250,000, split 1:2 -> 83,333.33 and
    # 166,666.67 (the cent to the larger remainder, L3). M4 is met up to A3's 100,000. Nothing is left
    # free, so the reachable values are the collateral values. L3: 266,667, LTV 0.75 > max LTV
    # (166,667 x 0.70 + 100,000 x 0.50) / 266,667 = 0.6250: a breach appears; L2 83,333, LTV 1.2: too.
    assert loans["L3"]["after"]["collateral_value"] == loans["L3"]["after"]["reachable_value"] == "2666.67"
    assert loans["L2"]["after"]["collateral_value"] == "833.33"
    assert loans["L3"]["breach_change"] == "appears" and loans["L3"]["touched"]
    assert loans["L2"]["breach_change"] == "appears" and not loans["L2"]["touched"]
    assert set(loans) == {"L1", "L2", "L3"}  # L1 shares A2

    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={
            "as_of": AS_OF,
            "changes": [
                {
                    "type": "add_lien",
                    "lien_id": "N1",
                    "asset_id": "A3",
                    "loan_ids": ["L2"],
                    "perfected_at": "2026-02-01T00:00:00Z",
                    "cap": "400.00",
                },
                {"type": "substitute_asset", "lien_id": "M4", "asset_id": "A1"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    loans = _by_loan(r.json()["loans"])
    # M4 moves to A1 (rank 1 beside M1, both met in full): L3 still 100,000, now all real estate, max LTV
    # 0.70. A3 is free for N1 (cap 40,000): L2 gets 40,000 more, and its cap stops it reaching more.
    assert loans["L3"]["after"]["collateral_value"] == "1000.00" and loans["L3"]["touched"]
    assert loans["L2"]["after"]["collateral_value"] == "1400.00"
    assert loans["L2"]["after"]["reachable_value"] == "2066.67"  # 166,667 through M3 + 40,000 through N1
    # L1's collateral stands, but M1 now shares A1's free 200,000 with M4 pro rata to claims 100,000:50,000:
    # M1 reaches 100,000 + 133,333 (M4 gets the cent of the larger remainder), plus M2's 350,000.
    l1 = loans["L1"]
    assert l1["after"]["collateral_value"] == l1["before"]["collateral_value"] == "2000.00"
    assert (l1["before"]["reachable_value"], l1["after"]["reachable_value"]) == ("7000.00", "5833.33")

    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={"as_of": AS_OF, "changes": [{"type": "capitalise_interest", "loan_id": "L2"}]},
    )
    assert r.status_code == 200, r.text
    assert _by_loan(r.json()["loans"])["L2"]["after"]["exposure"] == "1000.00"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (
            [{"type": "release_lien", "lien_id": "M2"}, {"type": "release_lien", "lien_id": "M2"}],
            "changes[1]",
            "already released",
        ),
        ([{"type": "release_lien", "lien_id": "M9"}], "changes[0].lien_id", "unknown lien 'M9'"),
        ([{"type": "capitalise_interest", "loan_id": "L9"}], "changes[0].loan_id", "unknown loan 'L9'"),
        (
            [{"type": "capitalise_interest", "loan_id": "L1", "amount": "5.00"}],
            "changes[0]",
            "interest outstanding is 0",
        ),
        ([{"type": "set_balance", "loan_id": "L1", "fees": "1.234"}], "changes[0].fees", "at most 2 decimal"),
        ([{"type": "set_balance", "loan_id": "L1", "fees": "-1"}], "changes[0].fees", "negative"),
        (
            [
                {
                    "type": "add_lien",
                    "lien_id": "M1",
                    "asset_id": "A1",
                    "loan_ids": ["L1"],
                    "perfected_at": "2026-02-01T00:00:00Z",
                }
            ],
            "changes[0].lien_id",
            "already exists",
        ),
        (
            [{"type": "add_lien", "lien_id": "N1", "asset_id": "A1", "loan_ids": ["L1"]}],
            "changes[0]",
            "needs perfected_at",
        ),
        ([{"type": "substitute_asset", "lien_id": "M1", "asset_id": "A9"}], "changes[0].asset_id", "unknown asset"),
        (
            [
                {
                    "type": "add_lien",
                    "lien_id": "N1",
                    "asset_id": "A1",
                    "loan_ids": ["L1", "L8"],
                    "perfected_at": "2026-02-01T00:00:00Z",
                }
            ],
            "changes[0].loan_ids",
            "unknown loan(s) L8",
        ),
    ],
)
async def test_what_if_refusals_name_the_change(
    client, as_role, book: Book, changes: list[dict[str, Any]], field: str, reason: str
) -> None:
    r = await client.post(
        "/api/coverage/what-if", headers=as_role(Role.CREDIT_OFFICER), json={"as_of": AS_OF, "changes": changes}
    )
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert field in errors and reason in errors[field], errors


async def test_what_if_needing_an_fx_rate_lists_the_pair(client, as_role, book: Book) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    # A USD lien on A1, valued in CNY: the claim must be converted, and no rate was given.
    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={
            "as_of": AS_OF,
            "changes": [
                {
                    "type": "add_lien",
                    "lien_id": "N2",
                    "asset_id": "A1",
                    "loan_ids": ["L4"],
                    "perfected_at": "2026-02-01T00:00:00Z",
                }
            ],
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["missing_pairs"] == [{"from": "CNY", "to": "USD"}]
    # With a rate the lien counts: A1 leaves 250,000 fen after M1; N2's claim of 100.00 USD is 71,429 fen
    # (10,000 / 0.14, rounded up), met in full, and 71,429 x 0.14 = 10,000.06 cents gives L4 its 100.00.
    r = await client.post(
        "/api/coverage/what-if",
        headers=headers,
        json={
            "as_of": AS_OF,
            "fx": ["CNY/USD=0.14"],
            "changes": [
                {
                    "type": "add_lien",
                    "lien_id": "N2",
                    "asset_id": "A1",
                    "loan_ids": ["L4"],
                    "perfected_at": "2026-02-01T00:00:00Z",
                }
            ],
        },
    )
    assert r.status_code == 200, r.text
    l4 = _by_loan(r.json()["loans"])["L4"]
    assert (l4["before"]["collateral_value"], l4["after"]["collateral_value"]) == ("0.00", "100.00")
    r = await client.post(
        "/api/coverage/stress",
        headers=headers,
        json={"by_kind": [{"kind": "vehicle", "change_pct": "-10"}], "fx": ["CNY/USD=0.14", "CNY/USD=0.15"]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "fx[1]", r.text
    for body in (
        {"changes": []},
        {"changes": [{"type": "demolish", "lien_id": "M1"}]},
        {"changes": [{"type": "release_lien"}]},
    ):
        r = await client.post("/api/coverage/what-if", headers=headers, json=body)
        assert r.status_code == 422, (body, r.text)
    assert (
        await client.post(
            "/api/coverage/what-if",
            headers=as_role(Role.AUDITOR),
            json={"changes": [{"type": "release_lien", "lien_id": "M1"}]},
        )
    ).status_code == 403


async def test_results_are_reused_until_the_book_changes(client, as_role, book: Book, monkeypatch) -> None:
    from valuation.services import coverage_runs as service
    from valuation.services import stress as stress_service

    reads: list[int] = []
    runs: list[int] = []
    real_read, real_engine = service.book_from_database, service.engine

    def counting_read() -> Any:
        reads.append(1)
        return real_read()

    def counting_engine(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return real_engine(*args, **kwargs)

    monkeypatch.setattr(service, "book_from_database", counting_read)
    monkeypatch.setattr(service, "engine", counting_engine)
    monkeypatch.setattr(stress_service, "engine", counting_engine)
    service.BOOKS.clear()  # nothing kept from an earlier test
    headers = as_role(Role.CREDIT_OFFICER)

    async def l1(as_of: str = AS_OF) -> str:
        r = await client.get(f"/api/coverage/loans/L1?as_of={as_of}", headers=headers)
        assert r.status_code == 200, r.text
        return str(r.json()["loan"]["exposure"])

    assert await l1() == "1000.00"
    await client.get(f"/api/coverage/summary?as_of={AS_OF}", headers=headers)
    await client.get(f"/api/coverage/loans?as_of={AS_OF}&page=1", headers=headers)
    assert (len(reads), len(runs)) == (1, 1)  # one read, one run for three views of the same book and date
    await l1("2026-10-01")
    assert (len(reads), len(runs)) == (1, 2)  # another date: the same book, another run
    r = await client.post(
        "/api/coverage/stress",
        headers=headers,
        json={"as_of": AS_OF, "by_kind": [{"kind": "vehicle", "change_pct": "-10"}]},
    )
    assert r.status_code == 200
    assert (len(reads), len(runs)) == (1, 3)  # the base is reused; only the stressed book is run
    await book.post("L1", "repayment", principal="400.00")
    # The repayment moved the audit head: the cached book and result are patched (only L1's part of the book is
    # computed again, by valuation.coverage.incremental), not read and run whole.
    assert await l1() == "600.00"
    assert (len(reads), len(runs)) == (1, 3)
    r = await client.put(
        "/api/policies/vehicle",
        headers=as_role(Role.ADMIN),
        json={"haircut": "0.40", "revaluation_days": 365, "max_ltv": "0.50"},
    )
    assert r.status_code == 200, r.text
    assert await l1() == "600.00"  # a policy moves every asset of its kind: read and computed whole again
    assert (len(reads), len(runs)) == (2, 4)


async def test_requests_arriving_together_share_one_read(client, as_role, book: Book, monkeypatch) -> None:
    import asyncio

    from valuation.services import coverage_runs as service

    reads: list[int] = []
    real_read = service.book_from_database

    def counting_read() -> Any:
        reads.append(1)
        return real_read()

    monkeypatch.setattr(service, "book_from_database", counting_read)
    service.BOOKS.clear()
    service.RESULTS.clear()
    headers = as_role(Role.AUDITOR)
    answers = await asyncio.gather(
        *(client.get(f"/api/coverage/summary?as_of={AS_OF}", headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.json() == answers[0].json() for a in answers)
    assert len(reads) == 1
