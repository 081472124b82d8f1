from __future__ import annotations

import pytest

from registry.roles import Role
from tests.integration.factory import Book, count

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="100000.00")
    return b


async def test_balance_is_the_sum_of_postings(client, as_role, book: Book) -> None:
    await book.post("L1", "accrual", interest="1200.50", penalty="30.00", fees="10.01")
    await book.post("L1", "repayment", interest="200.50", principal="5000.00")
    await book.post("L1", "capitalisation", interest="1000.00")
    loan = (await client.get("/api/loans/L1", headers=as_role(Role.AUDITOR))).json()
    assert loan["balance"] == {
        "principal": "96000.00",
        "interest": "0.00",
        "penalty": "30.00",
        "fees": "10.01",
        "total": "96040.01",
    }


async def test_reversal_negates_the_original_once(client, as_role, book: Book) -> None:
    posting = await book.post("L1", "accrual", interest="77.77")
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.post(
        f"/api/loans/L1/postings/{posting['id']}/reversal", json={"memo": "keyed twice"}, headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["interest"] == "-77.77"
    assert r.json()["reverses"] == posting["id"]
    again = await client.post(f"/api/loans/L1/postings/{posting['id']}/reversal", json={}, headers=headers)
    assert again.status_code == 409
    assert "already been reversed" in again.json()["detail"]
    loan = (await client.get("/api/loans/L1", headers=headers)).json()
    assert loan["balance"]["interest"] == "0.00"
    assert await count(client, headers, "/api/loans/L1/postings") == 3


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"kind": "repayment", "principal": "100000.01"}, "principal", "below zero"),
        ({"kind": "disbursement", "interest": "5.00"}, "interest", "cannot carry interest"),
        ({"kind": "accrual", "interest": "1.001"}, "interest", "at most 2 decimal places"),
        ({"kind": "accrual", "interest": "-1.00"}, "interest", "negative"),
        ({"kind": "accrual"}, "principal", "at least one component"),
        ({"kind": "teleport", "principal": "1.00"}, "kind", "Invalid enum value"),
    ],
)
async def test_bad_posting_is_422_naming_the_field_and_nothing_is_written(
    client, as_role, book: Book, body, field, reason
) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.post("/api/loans/L1/postings", json={"value_date": "2026-02-01", **body}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"] == field and reason in e["reason"] for e in r.json()["errors"]), r.json()
    assert await count(client, headers, "/api/loans/L1/postings") == 1


async def test_malformed_date_is_422(client, as_role, book: Book) -> None:
    r = await client.post(
        "/api/loans/L1/postings",
        json={"kind": "accrual", "interest": "1.00", "value_date": "2026-13-45"},
        headers=as_role(Role.CREDIT_OFFICER),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "value_date"


async def test_loan_create_validation_and_unknown_borrower(client, as_role, book: Book) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.post(
        "/api/loans",
        json={"ref": "L2", "borrower_ref": "P1", "currency": "XYZ", "interest_rate": "abc"},
        headers=headers,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"currency", "interest_rate"}
    r = await client.post("/api/loans", json={"ref": "L2", "borrower_ref": "NOPE", "currency": "CNY"}, headers=headers)
    assert r.status_code == 404
    assert r.json()["field"] == "borrower_ref"
    r = await client.post("/api/loans", json={"ref": "L1", "borrower_ref": "P1", "currency": "CNY"}, headers=headers)
    assert r.status_code == 409
    assert await count(client, headers, "/api/loans") == 1


async def test_list_filters_and_update(client, as_role, book: Book) -> None:
    await book.party("P2")
    await book.loan("L2", "P2", status="overdue", classification="substandard", interest_rate="0.0435")
    await book.loan("L3", "P2", currency="USD")
    headers = as_role(Role.CREDIT_OFFICER)
    assert await count(client, headers, "/api/loans?borrower_ref=P2") == 2
    assert await count(client, headers, "/api/loans?status=overdue") == 1
    assert await count(client, headers, "/api/loans?currency=USD") == 1
    page = (await client.get("/api/loans?page=2&page_size=2", headers=headers)).json()
    assert [item["ref"] for item in page["items"]] == ["L3"]
    assert page["total"] == 3
    r = await client.patch(
        "/api/loans/L2", json={"status": "non_performing", "classification": "doubtful"}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["status"] == "non_performing"
    assert r.json()["interest_rate"] == "0.0435"
    assert (await client.get("/api/loans/NOPE", headers=headers)).status_code == 404
