"""Disposal cases through the API (DESIGN 6 and 7): opening, rounds, private sale, in lieu, the waterfall
preview, settlement with four eyes exactly once, and recovery metrics, on both engines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from auctions.services import settlement as settlement_service
from registry import audit
from registry.roles import Role
from tests.integration.disposal_book import Clock, appraise, second_officer_headers, two_asset_lot
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.fixture
async def lot(client, as_role) -> Book:
    Clock(START)
    return await two_asset_lot(client, as_role)


@pytest.fixture
async def second(app) -> dict[str, str]:
    return await second_officer_headers(app)


async def open_case(client, as_role, ref: str = "C1", profile: str = "cn-judicial-online", assets=("A1", "A2")):
    return await client.post(
        "/api/disposals",
        headers=as_role(Role.DISPOSAL_OFFICER),
        json={"ref": ref, "asset_refs": list(assets), "profile": profile},
    )


async def state_of(client, as_role, ref: str = "C1") -> dict[str, Any]:
    r = await client.get(f"/api/disposals/{ref}", headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    return r.json()


async def move(client, headers, to: str, ref: str = "C1"):
    return await client.post(f"/api/disposals/{ref}/moves", headers=headers, json={"to": to})


async def test_opening_a_case_takes_the_lot_into_disposal(client, as_role, lot) -> None:
    r = await open_case(client, as_role)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "open"
    assert case["appraisal"] == "900000.00"
    assert case["exposure_at_open"] == "821000.00"  # L1 520,000.00 + L2 301,000.00
    assert [(a["asset_ref"], a["appraisal"], a["status"]) for a in case["assets"]] == [
        ("A1", "600000.00", "in_disposal"),
        ("A2", "300000.00", "in_disposal"),
    ]
    assert [(x["loan_ref"], x["exposure_at_open"]) for x in case["loans"]] == [("L1", "520000.00"), ("L2", "301000.00")]
    assert case["allowed_moves"] == ["schedule_round"]
    r = await client.get("/api/assets/A1", headers=as_role(Role.AUDITOR))
    assert r.json()["status"] == "in_disposal"
    listed = await client.get("/api/disposals?state=open", headers=as_role(Role.CREDIT_OFFICER))
    assert [c["ref"] for c in listed.json()["items"]] == ["C1"]


async def test_an_asset_in_an_open_case_cannot_join_another(client, as_role, lot) -> None:
    assert (await open_case(client, as_role, "C1", assets=("A1",))).status_code == 201
    r = await open_case(client, as_role, "C2", assets=("A2", "A1"))
    assert r.status_code == 409, r.text
    assert "already in open disposal case C1" in r.json()["detail"]
    assert (await client.get("/api/assets/A2", headers=as_role(Role.AUDITOR))).json()["status"] == "active"


async def test_a_case_needs_an_approved_current_appraisal_and_names_every_bad_asset(client, as_role, lot) -> None:
    b = lot
    await b.asset("A3")  # never appraised
    await b.asset("A4")
    await appraise(client, as_role, "A4", "100.00", valued_on="2025-01-01")  # 424 days old on 2026-03-01
    before = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    r = await open_case(client, as_role, "C1", assets=("A1", "A3", "A4", "NOPE"))
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert errors == {"asset_refs[3]": "no asset with ref 'NOPE'"}
    r = await open_case(client, as_role, "C1", assets=("A1", "A3", "A4"))
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert errors["asset_refs[1]"] == "asset A3 has no approved appraisal; a disposal starts from one"
    assert errors["asset_refs[2]"] == (
        "the appraisal of A4 (2025-01-01) is stale: 424 days old, and real_estate is revalued every 365 days"
    )
    after = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    assert after == before  # nothing written
    assert (await client.get("/api/assets/A1", headers=as_role(Role.AUDITOR))).json()["status"] == "active"


async def test_a_lot_has_one_owner(client, as_role, lot) -> None:
    await lot.party("P2")
    await lot.asset("B1", owner="P2")
    await appraise(client, as_role, "B1", "100.00")
    r = await open_case(client, as_role, "C1", assets=("A1", "B1"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "asset_refs"


async def test_only_disposal_officers_open_cases(client, as_role, lot) -> None:
    for role in (Role.ADMIN, Role.ASSET_MANAGER, Role.CREDIT_OFFICER, Role.AUDITOR, Role.BIDDER):
        r = await client.post(
            "/api/disposals", headers=as_role(role), json={"ref": "C1", "asset_refs": ["A1"], "profile": "us-ucc"}
        )
        assert r.status_code == 403, (role, r.text)


ROUND_1 = {
    "starting_price": "630000.00",
    "increment": "5000.00",
    "deposit": "63000.00",
    "notice_published_on": "2026-02-20",
    "starts_at": "2026-03-22T02:00:00Z",
    "ends_at": "2026-03-23T02:00:00Z",
}
ROUND_2 = {
    "starting_price": "504000.00",
    "increment": "5000.00",
    "deposit": "50400.00",
    "notice_published_on": "2026-03-23",
    "starts_at": "2026-04-07T02:00:00Z",
    "ends_at": "2026-04-08T02:00:00Z",
}


async def run_two_failed_rounds(client, as_role) -> None:
    officer = as_role(Role.DISPOSAL_OFFICER)
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json={**ROUND_1, "starting_price": "629999.99"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "starting_price",
            "reason": "starting price 629,999.99 is below 70% of the appraisal 900,000.00 (cn-judicial-online)",
        }
    ]
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND_1)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    assert (await state_of(client, as_role))["state"] == "auction"
    clock = Clock(datetime(2026, 3, 22, 3, tzinfo=UTC))
    r = await client.get(f"/api/rounds/{round_id}", headers=as_role(Role.BIDDER))
    assert r.json()["status"] == "bidding"
    clock.advance(days=1)  # past the end: the next read closes it, once
    r = await client.get(f"/api/rounds/{round_id}", headers=as_role(Role.BIDDER))
    assert (r.json()["status"], r.json()["closed_at"]) == ("failed", "2026-03-23T02:00:00Z")
    case = await state_of(client, as_role)
    assert case["state"] == "open"
    assert case["next_deadline"] == {"what": "round 2 must start", "due_on": "2026-04-22"}
    assert case["in_lieu_price"] == "630000.00"
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json={**ROUND_2, "starting_price": "503999.99"})
    assert r.status_code == 422
    assert "below 80% of round 1's starting price 630,000.00" in r.json()["errors"][0]["reason"]
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND_2)
    assert r.status_code == 201, r.text
    clock.at = datetime(2026, 4, 8, 3, tzinfo=UTC)
    case = await state_of(client, as_role)
    assert [x["status"] for x in case["rounds"]] == ["failed", "failed"]
    assert case["allowed_moves"] == ["start_private_sale", "take_in_lieu"]


async def test_judicial_rounds_then_private_sale_with_four_eyes(client, as_role, lot, second) -> None:
    assert (await open_case(client, as_role)).status_code == 201
    await run_two_failed_rounds(client, as_role)
    officer = as_role(Role.DISPOSAL_OFFICER)
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND_2)
    assert r.status_code == 409
    assert r.json()["allowed"] == ["start_private_sale", "take_in_lieu"]
    assert "allows 2 auction rounds and 2 were held" in r.json()["detail"]
    r = await client.post(
        "/api/disposals/C1/offers", headers=officer, json={"buyer": "Early Bird Ltd", "price": "504000.00"}
    )
    assert r.status_code == 409  # no offers before the private-sale period
    assert (await move(client, officer, "start_private_sale")).status_code == 200
    case = await state_of(client, as_role)
    assert case["private_sale_floor"] == "504000.00"
    assert case["next_deadline"] == {"what": "the private-sale period closes", "due_on": "2026-06-07"}
    r = await client.post(
        "/api/disposals/C1/offers", headers=officer, json={"buyer": "Low Ball Ltd", "price": "503999.99"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["reason"] == (
        "price 503,999.99 is below round 2's starting price 504,000.00, the private-sale floor (cn-judicial-online)"
    )
    r = await client.post(
        "/api/disposals/C1/offers",
        headers=officer,
        json={"buyer": "Harbour Holdings", "price": "504000.00", "terms": "cash in 30 days"},
    )
    assert r.status_code == 201, r.text
    offer_id = r.json()["offers"][0]["id"]
    r = await client.post(f"/api/disposals/C1/offers/{offer_id}/accept", headers=officer)
    assert r.status_code == 403  # the officer who recorded it cannot accept it
    r = await client.post(f"/api/disposals/C1/offers/{offer_id}/accept", headers=second)
    assert r.status_code == 200, r.text
    case = r.json()
    assert (case["state"], case["sale_kind"], case["sale_price"], case["buyer"]) == (
        "sold",
        "private_sale",
        "504000.00",
        "Harbour Holdings",
    )


async def test_private_sale_window_closes_after_sixty_days(client, as_role, lot, second) -> None:
    assert (await open_case(client, as_role)).status_code == 201
    await run_two_failed_rounds(client, as_role)
    officer = as_role(Role.DISPOSAL_OFFICER)
    assert (await move(client, officer, "start_private_sale")).status_code == 200  # 2026-04-08
    r = await client.post("/api/disposals/C1/offers", headers=officer, json={"buyer": "B", "price": "600000.00"})
    offer_id = r.json()["offers"][0]["id"]
    Clock(datetime(2026, 6, 8, 9, tzinfo=UTC))
    r = await client.post(f"/api/disposals/C1/offers/{offer_id}/accept", headers=second)
    assert r.status_code == 422
    assert "closed on 2026-06-07" in r.json()["errors"][0]["reason"]


async def sell_privately(client, as_role, second, price: str = "810000.01") -> None:
    """cn-commercial allows a private sale at once."""
    officer = as_role(Role.DISPOSAL_OFFICER)
    assert (await open_case(client, as_role, profile="cn-commercial")).status_code == 201
    assert (await move(client, officer, "start_private_sale")).status_code == 200
    r = await client.post(
        "/api/disposals/C1/offers", headers=officer, json={"buyer": "Harbour Holdings", "price": price}
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/disposals/C1/offers/{r.json()['offers'][0]['id']}/accept", headers=second)
    assert r.status_code == 200, r.text


EXPENSES = [{"kind": "commission", "amount": "9000.00"}, {"kind": "court_fee", "amount": "1000.01"}]


def lines_of(waterfall: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (x["asset_id"], x["lien_id"], x["rank"], x["loan_id"], x["component"], x["amount"]) for x in waterfall["lines"]
    ]


# The hand-worked lot (tests/integration/disposal_book.py), gross 810,000.01, expenses 9,000.00 + 1,000.01:
#  lot split 2:1 by appraisal: 81,000,001 cents -> A1 54,000,000.67 / A2 27,000,000.33: the left cent to A1
#    (larger remainder): A1 540,000.01, A2 270,000.00. Commission 900,000 -> 600,000 / 300,000; court fee
#    100,001 -> 66,667.33 / 33,333.67: the left cent to A2: 66,667 / 33,334. A1 pays 6,666.67, A2 3,333.34.
#  A1 net 533,333.34: rank 1 X1 (registered 01-03) takes its 100,000.00; rank 2 M1 takes the rest,
#    433,333.34, all to L1: interest 20,000.00 first (cn-civil-code), then principal 413,333.34.
#    L1 is left with principal 86,666.66.
#  A2 net 266,666.66 < M2's claim (L1 86,666.66 + L2 301,000.00 = 387,666.66): split pro rata to outstanding:
#    L1 59,615.93074.. , L2 207,050.72925..: the left cent to L2 -> 59,615.93 / 207,050.73.
#    L1 principal 59,615.93; L2 fees 1,000.00 then principal 206,050.73.
#  Deficiency: L1 86,666.66 - 59,615.93 = 27,050.73; L2 300,000.00 - 206,050.73 = 93,949.27. No surplus.
HAND_WORKED = [
    ("A1", "X1", 1, None, None, "100000.00"),
    ("A1", "M1", 2, "L1", "interest", "20000.00"),
    ("A1", "M1", 2, "L1", "principal", "413333.34"),
    ("A2", "M2", 1, "L1", "principal", "59615.93"),
    ("A2", "M2", 1, "L2", "fees", "1000.00"),
    ("A2", "M2", 1, "L2", "principal", "206050.73"),
]


async def test_preview_of_the_hand_worked_lot_writes_nothing(client, as_role, lot) -> None:
    assert (await open_case(client, as_role, profile="cn-commercial")).status_code == 201
    before = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    r = await client.post(
        "/api/disposals/C1/waterfall",
        headers=as_role(Role.CREDIT_OFFICER),
        json={"gross_proceeds": "810000.01", "expenses": EXPENSES, "profile": "cn-civil-code"},
    )
    assert r.status_code == 200, r.text
    w = r.json()
    assert lines_of(w) == HAND_WORKED
    assert [(e["asset_id"], e["kind"], e["amount"]) for e in w["expenses"]] == [
        ("A1", "commission", "6000.00"),
        ("A1", "court_fee", "666.67"),
        ("A2", "commission", "3000.00"),
        ("A2", "court_fee", "333.34"),
    ]
    assert [(a["asset_id"], a["gross"]) for a in w["assets"]] == [("A1", "540000.01"), ("A2", "270000.00")]
    assert w["expenses_paid"] == "10000.01"
    assert w["surplus"] == "0.00"
    assert w["deficiency"] == [{"loan_id": "L1", "amount": "27050.73"}, {"loan_id": "L2", "amount": "93949.27"}]
    assert w["paid_to_own_loans"] == "700000.00"
    after = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    assert after == before


async def test_single_asset_preview_answers_design_8(client, as_role, lot) -> None:
    r = await client.post(
        "/api/assets/A1/waterfall",
        headers=as_role(Role.DISPOSAL_OFFICER),
        json={
            "gross_proceeds": "700000.00",
            "expenses": [{"kind": "tax", "amount": "1000.00"}],
            "profile": "principal-first",
        },
    )
    assert r.status_code == 200, r.text
    w = r.json()
    # X1 100,000.00 first; M1 gets 599,000.00 >= L1's 520,000.00; principal first; 79,000.00 surplus to P1.
    assert lines_of(w) == [
        ("A1", "X1", 1, None, None, "100000.00"),
        ("A1", "M1", 2, "L1", "principal", "500000.00"),
        ("A1", "M1", 2, "L1", "interest", "20000.00"),
    ]
    assert (w["expenses_paid"], w["surplus"], w["deficiency"]) == ("1000.00", "79000.00", [])
    assert w["surplus_by_asset"] == [{"asset_id": "A1", "owner_id": "P1", "amount": "79000.00"}]
    bad = await client.post(
        "/api/assets/A1/waterfall",
        headers=as_role(Role.DISPOSAL_OFFICER),
        json={"gross_proceeds": "12.345", "expenses": [{"kind": "tax", "amount": "-1"}]},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"gross_proceeds", "expenses[0].amount"}


async def balances(client, as_role, loan: str) -> dict[str, str]:
    return (await client.get(f"/api/loans/{loan}", headers=as_role(Role.AUDITOR))).json()["balance"]


async def test_settlement_posts_releases_and_settles_once_with_four_eyes(client, as_role, lot, second) -> None:
    await sell_privately(client, as_role, second)
    officer = as_role(Role.DISPOSAL_OFFICER)
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=second)
    assert r.status_code == 409  # nothing proposed yet
    r = await client.post(
        "/api/disposals/C1/settlement", headers=officer, json={"expenses": EXPENSES, "gross_proceeds": "810000.00"}
    )
    assert r.status_code == 422
    assert "must be the sale price 810000.01" in r.json()["errors"][0]["reason"]
    r = await client.post("/api/disposals/C1/settlement", headers=officer, json={"expenses": EXPENSES})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "proposed"
    assert lines_of(r.json()["waterfall"]) == HAND_WORKED
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=officer)
    assert r.status_code == 403  # four eyes
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=second)
    assert r.status_code == 200, r.text
    settled = r.json()
    assert (settled["status"], settled["proposed_by"], settled["confirmed_by"]) == (
        "confirmed",
        "disposal_officer1",
        "disposal_officer2",
    )
    assert lines_of(settled["waterfall"]) == HAND_WORKED
    assert (await client.post("/api/disposals/C1/settlement/confirm", headers=second)).status_code == 409
    assert await balances(client, as_role, "L1") == {
        "principal": "27050.73",
        "interest": "0.00",
        "penalty": "0.00",
        "fees": "0.00",
        "total": "27050.73",
    }
    assert (await balances(client, as_role, "L2"))["total"] == "93949.27"
    postings = (await client.get("/api/loans/L1/postings", headers=as_role(Role.AUDITOR))).json()["items"]
    proceeds = [(p["principal"], p["interest"], p["fees"]) for p in postings if p["kind"] == "disposal_proceeds"]
    assert proceeds == [("-472949.27", "-20000.00", "0.00")]  # one posting per loan, by component
    for lien in ("M1", "M2", "X1"):
        assert (await client.get(f"/api/liens/{lien}", headers=as_role(Role.AUDITOR))).json()["status"] == "released"
    for asset in ("A1", "A2"):
        assert (await client.get(f"/api/assets/{asset}", headers=as_role(Role.AUDITOR))).json()["status"] == "disposed"
    case = await state_of(client, as_role)
    assert case["state"] == "settled"
    assert case["allowed_moves"] == ["close"]
    assert (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()["ok"] is True
    assert (await move(client, officer, "close")).json()["state"] == "closed"


async def test_concurrent_confirms_settle_once(client, as_role, lot, second) -> None:
    await sell_privately(client, as_role, second)
    r = await client.post(
        "/api/disposals/C1/settlement", headers=as_role(Role.DISPOSAL_OFFICER), json={"expenses": EXPENSES}
    )
    assert r.status_code == 201
    answers = await asyncio.gather(
        *(client.post("/api/disposals/C1/settlement/confirm", headers=second) for _ in range(20))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 19, [a.text for a in answers if a.status_code not in (200, 409)]
    postings = (await client.get("/api/loans/L1/postings", headers=as_role(Role.AUDITOR))).json()["items"]
    assert sum(p["kind"] == "disposal_proceeds" for p in postings) == 1
    assert (await balances(client, as_role, "L1"))["total"] == "27050.73"
    assert (await audit.verify()).ok


async def test_a_failure_after_the_postings_leaves_nothing_written(client, as_role, lot, second, monkeypatch) -> None:
    await sell_privately(client, as_role, second)
    r = await client.post(
        "/api/disposals/C1/settlement", headers=as_role(Role.DISPOSAL_OFFICER), json={"expenses": EXPENSES}
    )
    assert r.status_code == 201
    head = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()

    async def broken_release(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("injected: the lien release failed")

    monkeypatch.setattr(settlement_service, "release_liens", broken_release)
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=second)
    assert r.status_code == 500
    assert (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json() == head
    assert (await balances(client, as_role, "L1"))["total"] == "520000.00"
    assert (await state_of(client, as_role))["state"] == "sold"
    assert (await client.get("/api/liens/M1", headers=as_role(Role.AUDITOR))).json()["status"] == "registered"
    monkeypatch.undo()
    assert (await client.post("/api/disposals/C1/settlement/confirm", headers=second)).status_code == 200


async def test_taking_in_lieu_settles_our_loans_without_cash(client, as_role, lot, second) -> None:
    officer = as_role(Role.DISPOSAL_OFFICER)
    assert (await open_case(client, as_role)).status_code == 201
    r = await move(client, officer, "take_in_lieu")
    assert r.status_code == 409
    assert r.json()["current"] == "open"
    assert r.json()["allowed"] == ["schedule_round"]
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND_1)
    Clock(datetime(2026, 3, 24, tzinfo=UTC))
    r = await move(client, officer, "take_in_lieu")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["sale_price"]) == ("in_lieu", "630000.00")
    r = await client.post("/api/disposals/C1/settlement", headers=officer, json={})
    assert r.status_code == 201, r.text
    w = r.json()["waterfall"]
    # 630,000.00 split 2:1: A1 420,000.00 pays X1 100,000.00 then L1 320,000.00; A2 210,000.00 to M2.
    assert [x["cash"] for x in w["lines"] if x["lien_id"] == "X1"] == [True]
    assert all(not x["cash"] for x in w["lines"] if x["lien_id"] != "X1")
    assert w["owed_by_bank"] == "100000.00"  # to Bank of Example; no surplus
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=second)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/assets/A1", headers=as_role(Role.AUDITOR))).json()["status"] == "taken_in_lieu"


async def test_withdrawal_once_repaid_puts_the_assets_back(client, as_role, lot) -> None:
    officer = as_role(Role.DISPOSAL_OFFICER)
    assert (await open_case(client, as_role, profile="us-ucc")).status_code == 201
    r = await move(client, officer, "withdraw")
    assert r.status_code == 409
    assert "repaid" in r.json()["detail"]
    await lot.post("L1", "repayment", principal="500000.00", interest="20000.00")
    await lot.post("L2", "repayment", principal="300000.00", fees="1000.00")
    r = await move(client, officer, "withdraw")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"
    assert (await client.get("/api/assets/A1", headers=as_role(Role.AUDITOR))).json()["status"] == "active"
    assert (await open_case(client, as_role, "C2", profile="us-ucc")).status_code == 422  # nothing left to recover


async def test_recovery_metrics_after_a_settlement(client, as_role, lot, second) -> None:
    await sell_privately(client, as_role, second)
    await client.post(
        "/api/disposals/C1/settlement", headers=as_role(Role.DISPOSAL_OFFICER), json={"expenses": EXPENSES}
    )
    await client.post("/api/disposals/C1/settlement/confirm", headers=second)
    r = await client.get("/api/disposals/metrics?by=profile", headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    # paid to our loans 700,000.00 of 821,000.00 exposure; 810,000.01 for a 900,000.00 appraisal
    assert (row["group"], row["recovery_rate"], row["discount_to_appraisal"]) == ("cn-commercial", "0.8526", "0.1000")
    assert (row["settled"], row["rounds_held"], row["failed_round_rate"]) == (1, 0, None)
    r = await client.get("/api/disposals/metrics?by=month&format=csv", headers=as_role(Role.AUDITOR))
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[1].startswith("month,2026-03,CNY,1,1,0.8526,")


async def upload(client, headers, entity: str, ref: str, name: str) -> int:
    r = await client.post(
        "/api/documents",
        headers=headers,
        data={"entity": entity, "entity_ref": ref},
        files={"file": (name, b"%PDF-1.4 evidence", "application/pdf")},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_offers_and_expenses_carry_their_documents(client, as_role, lot, second) -> None:
    officer = as_role(Role.DISPOSAL_OFFICER)
    letter = await upload(client, officer, "asset", "A1", "offer-letter.pdf")
    invoice = await upload(client, officer, "asset", "A1", "commission-invoice.pdf")
    assert (await open_case(client, as_role, profile="cn-commercial")).status_code == 201
    assert (await move(client, officer, "start_private_sale")).status_code == 200
    r = await client.post(
        "/api/disposals/C1/offers", headers=officer, json={"buyer": "B", "price": "810000.01", "document_ids": [999999]}
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "document_ids", "reason": "no document with id 999999"}]
    r = await client.post(
        "/api/disposals/C1/offers", headers=officer, json={"buyer": "B", "price": "810000.01", "document_ids": [letter]}
    )
    assert r.json()["offers"][0]["document_ids"] == [letter]
    await client.post(f"/api/disposals/C1/offers/{r.json()['offers'][0]['id']}/accept", headers=second)
    bad = [{"kind": "commission", "amount": "100.00", "document_ids": [invoice, 999999]}]
    r = await client.post("/api/disposals/C1/settlement", headers=officer, json={"expenses": bad})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "expenses[0].document_ids"
    good = [{"kind": "commission", "amount": "100.00", "document_ids": [invoice]}]
    r = await client.post("/api/disposals/C1/settlement", headers=officer, json={"expenses": good})
    assert r.status_code == 201, r.text
    assert r.json()["expense_documents"] == [[invoice]]
    assert r.json()["expenses"] == [{"kind": "commission", "amount": "100.00", "document_ids": [invoice]}]
