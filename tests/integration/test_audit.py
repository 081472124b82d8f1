from __future__ import annotations

import pytest

from registry import audit
from registry.roles import Role
from registry.tables import AuditEvent
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="1000.00")
    await b.asset("A1")
    await b.lien("M1")
    return b


async def test_every_change_is_one_chained_event(client, as_role, book: Book) -> None:
    page = (await client.get("/api/audit?page_size=200", headers=as_role(Role.AUDITOR))).json()
    events = list(reversed(page["items"]))
    assert [(e["entity"], e["entity_ref"], e["action"]) for e in events] == [
        ("party", "P1", "create"),
        ("loan", "L1", "create"),
        ("loan", "L1", "posting:disbursement"),
        ("asset", "A1", "create"),
        ("lien", "M1", "create"),
    ]
    assert all(e["actor"] in {"asset_manager1", "credit_officer1"} for e in events)
    report = (await client.get("/api/audit/verify", headers=as_role(Role.AUDITOR))).json()
    assert report == {"ok": True, "events": 5, "first_broken_seq": None, "reason": None, "unkeyed_events": 0}


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"actor": "someone-else"}, "does not match its hash"),
        ({"after": '{"ref":"L1","status":"settled"}'}, "does not match its hash"),
        ({"hash": "f" * 64}, "does not match its hash"),
    ],
)
async def test_editing_an_event_breaks_the_chain_at_that_event(client, as_role, book: Book, tamper, reason) -> None:
    await AuditEvent.update(tamper).where(AuditEvent.seq == 3)
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 3
    assert reason in (report.reason or "")
    assert report.events == 2
    api = (await client.get("/api/audit/verify", headers=as_role(Role.ADMIN))).json()
    assert api["ok"] is False
    assert api["first_broken_seq"] == 3


async def test_deleting_an_event_is_detected(client, as_role, book: Book) -> None:
    await AuditEvent.delete().where(AuditEvent.seq == 2)
    report = await audit.verify()
    assert not report.ok
    assert report.first_broken_seq == 2
    assert "missing" in (report.reason or "")


async def test_a_refused_change_writes_no_event(client, as_role, book: Book) -> None:
    before = await AuditEvent.count()
    r = await book.move("M1", "released")
    assert r.status_code == 409
    r = await client.post(
        "/api/loans/L1/postings",
        json={"kind": "repayment", "value_date": "2026-01-01", "principal": "5000.00"},
        headers=book.credit,
    )
    assert r.status_code == 422
    assert await AuditEvent.count() == before


async def test_audit_filters(client, as_role, book: Book) -> None:
    headers = as_role(Role.AUDITOR)
    assert (await client.get("/api/audit?entity=loan", headers=headers)).json()["total"] == 2
    assert (await client.get("/api/audit?actor=asset_manager1", headers=headers)).json()["total"] == 3
