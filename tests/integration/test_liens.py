from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from registry.roles import Role
from tests.integration.factory import Book, count

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="500000.00")
    await b.loan("L2", "P1", principal="200000.00")
    await b.asset("A1")
    return b


async def test_ranks_on_the_asset_and_on_each_lien(client, as_role, book: Book) -> None:
    await book.lien("M-late", loans=["L2"])
    await book.lien("M-first", loans=["L1"], kind="max_amount_mortgage", cap="300000.00")
    await book.lien("M-tie", loans=["L1", "L2"])
    await book.lien("X-other", holder="Bank of Ningbo", external_claim="80000.00")
    await book.lien("M-draft", loans=["L1"])
    await book.lien("M-gone", loans=["L1"])
    await book.register("M-first", T0)
    await book.register("X-other", T0 + timedelta(days=5))
    await book.register("M-tie", T0 + timedelta(days=5))
    await book.register("M-late", T0 + timedelta(days=9))
    await book.register("M-gone", T0 - timedelta(days=30))
    assert (await book.move("M-gone", "released")).status_code == 200

    headers = as_role(Role.CREDIT_OFFICER)
    asset = (await client.get("/api/assets/A1", headers=headers)).json()
    assert [(lien["ref"], lien["rank"]) for lien in asset["liens"]] == [
        ("M-first", 1),
        ("M-tie", 2),
        ("X-other", 2),
        ("M-late", 3),
        ("M-draft", 4),
        ("M-gone", None),
    ]
    assert asset["loans_secured"] == ["L1", "L2"]
    lien = (await client.get("/api/liens/X-other", headers=headers)).json()
    assert lien["rank"] == 2
    assert lien["external_claim"] == "80000.00"
    assert lien["loan_refs"] == []
    assert (await client.get("/api/liens/M-first", headers=headers)).json()["cap"] == "300000.00"
    assert await count(client, headers, "/api/liens?loan_ref=L2") == 2
    assert await count(client, headers, "/api/liens?status=registered") == 4
    assert await count(client, headers, "/api/liens?holder=Bank of Ningbo") == 1


async def test_refused_move_is_409_with_current_and_allowed(client, as_role, book: Book) -> None:
    await book.lien("M1")
    r = await book.move("M1", "registered")
    assert r.status_code == 409
    problem = r.json()
    assert problem["current"] == "draft"
    assert problem["allowed"] == ["submitted"]
    assert r.headers["content-type"].startswith("application/problem+json")
    await book.register("M1", T0)
    r = await book.move("M1", "draft")
    assert r.status_code == 409
    assert problem["current"] == "draft"
    assert r.json()["current"] == "registered"
    assert r.json()["allowed"] == ["released", "expired"]
    assert (await client.get("/api/liens/M1", headers=as_role(Role.AUDITOR))).json()["status"] == "registered"


async def test_registering_needs_number_past_time_and_a_loan(client, as_role, book: Book) -> None:
    await book.lien("M1")
    assert (await book.move("M1", "submitted")).status_code == 200
    r = await book.move("M1", "registered")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "registration_number"
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    r = await book.move("M1", "registered", registration_number="R1", perfected_at=future)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "perfected_at"
    await book.lien("M2", loans=[])
    await book.move("M2", "submitted")
    r = await book.move("M2", "registered", registration_number="R2")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "loan_refs"
    assert (await client.get("/api/liens/M1", headers=as_role(Role.AUDITOR))).json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"holder": "Other Bank", "loan_refs": ["L1"], "external_claim": "1.00"}, 422, "loan_refs"),
        ({"holder": "Other Bank", "loan_refs": []}, 422, "external_claim"),
        ({"external_claim": "5.00"}, 422, "external_claim"),
        ({"cap": "12.345"}, 422, "cap"),
        ({"loan_refs": ["L1", "NOPE"]}, 404, "loan_refs"),
        ({"loan_refs": ["L1", "L1"]}, 422, "loan_refs"),
        ({"asset_ref": "NOPE"}, 404, "asset_ref"),
        ({"currency": "ABC"}, 422, "currency"),
    ],
)
async def test_bad_lien_refused_nothing_written(client, as_role, book: Book, body, status, field) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    payload = {"ref": "M9", "asset_ref": "A1", "kind": "pledge", "currency": "CNY", "loan_refs": ["L1"], **body}
    r = await client.post("/api/liens", json=payload, headers=headers)
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem.get("field") == field or any(e["field"] == field for e in problem.get("errors", []))
    assert await count(client, headers, "/api/liens") == 0


async def test_secured_loans_change_only_while_draft(client, as_role, book: Book) -> None:
    await book.lien("M1", loans=["L1"])
    headers = as_role(Role.ASSET_MANAGER)
    r = await client.patch("/api/liens/M1", json={"loan_refs": ["L1", "L2"], "cap": "100.00"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["loan_refs"] == ["L1", "L2"]
    assert r.json()["cap"] == "100.00"
    await book.register("M1", T0)
    r = await client.patch("/api/liens/M1", json={"loan_refs": ["L1"]}, headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "loan_refs"
    await book.move("M1", "released")
    r = await client.patch("/api/liens/M1", json={"cap": "1.00"}, headers=headers)
    assert r.status_code == 409
    assert r.json()["current"] == "released"
    assert (await client.get("/api/liens/M1", headers=headers)).json()["loan_refs"] == ["L1", "L2"]


async def test_a_lien_history_in_one_write_is_each_move_checked_and_audited(client, as_role, book: Book) -> None:
    """liens.apply_moves (the demo files each lien's history with it): every move checked against the state the
    one before left, one audit event per move with before and after, and all or nothing."""
    from registry.audit import verify
    from registry.schemas.liens import RegistrationMove
    from registry.services import liens
    from registry.tables import AuditEvent, Lien

    await book.lien("M1")
    history = [
        RegistrationMove(to="submitted"),
        RegistrationMove(to="registered", registration_number="REG-M1", perfected_at=T0),
        RegistrationMove(to="released", reason="repaid"),
    ]
    await liens.apply_moves("M1", history, "collateral_desk")
    row = await Lien.select().where(Lien.ref == "M1").first()
    assert (row["status"], row["registration_number"], row["perfected_at"]) == ("released", "REG-M1", T0)
    events = await AuditEvent.select().where(AuditEvent.entity_ref == "M1").order_by(AuditEvent.seq)

    def status(view: object) -> str:
        return (json.loads(view) if isinstance(view, str) else view)["status"]  # type: ignore[index]

    moves = [(e["action"], status(e["before"]), status(e["after"])) for e in events if e["action"] != "create"]
    assert moves == [
        ("registration:submitted", "draft", "submitted"),
        ("registration:registered", "submitted", "registered"),
        ("registration:released", "registered", "released"),
    ]
    assert (await verify()).ok

    # A history with a move the state before it does not allow is refused whole: nothing written.
    await book.lien("M2")
    before = await AuditEvent.count()
    with pytest.raises(Exception, match="registered"):
        await liens.apply_moves("M2", [RegistrationMove(to="submitted"), RegistrationMove(to="draft")], "desk")
    assert (await Lien.select(Lien.status).where(Lien.ref == "M2").first())["status"] == "draft"
    assert await AuditEvent.count() == before
