"""A write that changes nothing writes nothing: no update, no audit event (issue 13)."""

from __future__ import annotations

import pytest

from registry.tables import AuditEvent
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[121.40, 31.20], [121.41, 31.20], [121.41, 31.21], [121.40, 31.21], [121.40, 31.20]]],
}


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1", name="Acme Trading", id_number="91330100MA27XYZ123")
    await b.loan("L1", principal="1000.00", interest_rate="0.0435", maturity="2030-06-30")
    await b.asset(
        "A1",
        description="Office floor 12",
        address="Century Ave 1",
        identifiers={"certificate_no": "C-1"},
        geometry=SQUARE,
    )
    await b.lien("M1", cap="800.00", authority="Pudong registry", expires_on="2031-01-01")
    return b


@pytest.mark.parametrize(
    ("url", "role", "same", "changed"),
    [
        ("/api/parties/P1", "manager", {"name": "Acme Trading", "status": "normal"}, {"name": "Acme Trading Co."}),
        (
            "/api/loans/L1",
            "credit",
            {"interest_rate": "0.0435", "maturity": "2030-06-30", "status": "performing"},
            {"maturity": "2030-07-31"},
        ),
        (
            "/api/assets/A1",
            "manager",
            {
                "description": "Office floor 12",
                "address": "Century Ave 1",
                "identifiers": {"certificate_no": "C-1"},
                "geometry": SQUARE,
                "status": "active",
            },
            {"description": "Office floor 14"},
        ),
        (
            "/api/liens/M1",
            "manager",
            {"cap": "800.00", "authority": "Pudong registry", "expires_on": "2031-01-01", "loan_refs": ["L1"]},
            {"cap": "900.00"},
        ),
    ],
)
async def test_patch_with_the_same_values_records_no_audit_event(
    client, book: Book, url: str, role: str, same: dict, changed: dict
) -> None:
    headers = getattr(book, role)
    events = await AuditEvent.count()
    r = await client.patch(url, json=same, headers=headers)
    assert r.status_code == 200, r.text
    assert await AuditEvent.count() == events
    r = await client.patch(url, json={}, headers=headers)
    assert r.status_code == 200, r.text
    assert await AuditEvent.count() == events
    r = await client.patch(url, json=changed, headers=headers)
    assert r.status_code == 200, r.text
    assert await AuditEvent.count() == events + 1
