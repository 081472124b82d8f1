"""Valuations (four eyes), policies, the revaluation worklist and the bulk valuation upload, on both engines."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from registry import clock
from registry.roles import Role
from registry.tables import AuditEvent
from tests.integration.factory import Book
from valuation.tables import Valuation

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture
async def book(client, as_role) -> Book:
    clock.set_clock(lambda: NOW)
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="500000.00")
    await b.asset("A1")
    await b.asset("A2", kind="vehicle")
    return b


def body(**extra: object) -> dict[str, object]:
    return {
        "asset_ref": "A1",
        "valued_on": "2026-06-01",
        "market_value": "1200000.00",
        "currency": "CNY",
        "method": "market_comparison",
        "appraiser": "Shanghai Appraisal Co.",
        **extra,
    }


async def submit(client, headers, **extra: object) -> dict:
    r = await client.post("/api/valuations", json=body(**extra), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def events() -> list[dict]:
    return await AuditEvent.select().order_by(AuditEvent.seq)


# --- submit, approve, reject --------------------------------------------------------------------


async def test_submit_then_another_user_approves(client, as_role, book: Book) -> None:
    before = await AuditEvent.count()
    v = await submit(client, as_role(Role.ASSET_MANAGER), forced_sale_value="800000.5")
    assert v["status"] == "submitted"
    assert v["market_value"] == "1200000.00" and v["forced_sale_value"] == "800000.50"
    assert v["submitted_by"] == "asset_manager1" and v["allowed_moves"] == ["approved", "rejected"]
    assert await AuditEvent.count() == before + 1
    r = await client.post(f"/api/valuations/{v['id']}/approve", headers=as_role(Role.ADMIN))
    assert r.status_code == 200, r.text
    approved = r.json()
    assert (approved["status"], approved["decided_by"], approved["allowed_moves"]) == ("approved", "admin1", [])
    assert approved["decided_at"].startswith("2026-06-30T10:00:00")
    last = (await events())[-1]
    assert (last["entity"], last["entity_ref"], last["action"], last["actor"]) == (
        "valuation",
        str(v["id"]),
        "approve",
        "admin1",
    )
    assert await AuditEvent.count() == before + 2


async def test_four_eyes_the_submitter_cannot_approve(client, as_role, book: Book) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    v = await submit(client, manager)
    count = await AuditEvent.count()
    r = await client.post(f"/api/valuations/{v['id']}/approve", headers=manager)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "four eyes" in r.json()["detail"] and "asset_manager1" in r.json()["detail"]
    assert (await client.get(f"/api/valuations/{v['id']}", headers=manager)).json()["status"] == "submitted"
    assert await AuditEvent.count() == count
    # The submitter may still withdraw it: a rejection only takes value away.
    r = await client.post(f"/api/valuations/{v['id']}/reject", json={"reason": "typo in the value"}, headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "rejected"


async def test_reject_needs_a_reason_and_decided_valuations_are_final(client, as_role, book: Book) -> None:
    v = await submit(client, as_role(Role.ASSET_MANAGER))
    admin = as_role(Role.ADMIN)
    count = await AuditEvent.count()
    for reason in ["", "   "]:
        r = await client.post(f"/api/valuations/{v['id']}/reject", json={"reason": reason}, headers=admin)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "reason"
    r = await client.post(f"/api/valuations/{v['id']}/reject", json={}, headers=admin)
    assert r.status_code == 422
    assert await AuditEvent.count() == count
    r = await client.post(f"/api/valuations/{v['id']}/reject", json={"reason": "comparables too old"}, headers=admin)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["reason"]) == ("rejected", "comparables too old")
    for action, payload in [("approve", None), ("reject", {"reason": "again"})]:
        r = await client.post(f"/api/valuations/{v['id']}/{action}", json=payload, headers=admin)
        assert r.status_code == 409
        assert (r.json()["current"], r.json()["allowed"]) == ("rejected", [])
        assert "rejected" in r.json()["detail"]
    assert await AuditEvent.count() == count + 1


async def test_bad_input_is_422_naming_the_field_and_writes_nothing(client, as_role, book: Book) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    count = await AuditEvent.count()
    cases = [
        ({"valued_on": (TODAY + timedelta(days=1)).isoformat()}, "valued_on"),
        ({"market_value": "12.345"}, "market_value"),
        ({"market_value": "-5.00"}, "market_value"),
        ({"market_value": 100}, "market_value"),
        ({"currency": "XXX"}, "currency"),
        ({"method": "guess"}, "method"),
        ({"appraiser": "  "}, "appraiser"),
        ({"forced_sale_value": "2000000.00"}, "forced_sale_value"),
        ({"valued_on": "2026-02-30"}, "valued_on"),
        ({"surprise": 1}, "surprise"),
    ]
    for extra, field in cases:
        r = await client.post("/api/valuations", json=body(**extra), headers=manager)
        assert r.status_code == 422, (extra, r.text)
        assert field in {e["field"] for e in r.json()["errors"]} or field in r.json()["detail"], (extra, r.json())
    assert await Valuation.count() == 0
    assert await AuditEvent.count() == count


async def test_unknown_asset_or_valuation_is_404_and_a_second_appraisal_of_the_same_key_is_409(
    client, as_role, book: Book
) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    r = await client.post("/api/valuations", json=body(asset_ref="NOPE"), headers=manager)
    assert r.status_code == 404
    assert (r.json()["field"], r.json()["ref"]) == ("asset_ref", "NOPE")
    for method, url in [
        ("GET", "/api/valuations/999"),
        ("POST", "/api/valuations/999/approve"),
        ("GET", "/api/assets/NOPE/valuations"),
    ]:
        assert (await client.request(method, url, headers=as_role(Role.ADMIN))).status_code == 404, url
    await submit(client, manager)
    count = await AuditEvent.count()
    r = await client.post("/api/valuations", json=body(market_value="1.00"), headers=manager)
    assert r.status_code == 409
    assert "already has a market_comparison valuation on 2026-06-01" in r.json()["detail"]
    assert await AuditEvent.count() == count
    await submit(client, manager, method="desktop")  # another method on the same day is another appraisal


async def test_history_is_newest_first_and_the_queue_lists_submitted_oldest_first(client, as_role, book: Book) -> None:
    manager, admin = as_role(Role.ASSET_MANAGER), as_role(Role.ADMIN)
    old = await submit(client, manager, valued_on="2025-01-10")
    new = await submit(client, manager, valued_on="2026-05-01", currency="USD", market_value="10")
    other = await submit(client, manager, asset_ref="A2", valued_on="2025-12-01")
    await client.post(f"/api/valuations/{old['id']}/approve", headers=admin)
    history = (await client.get("/api/assets/A1/valuations", headers=as_role(Role.AUDITOR))).json()
    assert [v["id"] for v in history["items"]] == [new["id"], old["id"]]
    assert history["total"] == 2 and history["items"][0]["market_value"] == "10.00"
    queue = (await client.get("/api/valuations?status=submitted", headers=as_role(Role.CREDIT_OFFICER))).json()
    assert [v["id"] for v in queue["items"]] == [new["id"], other["id"]]
    assert (await client.get("/api/valuations?asset_ref=A2", headers=admin)).json()["total"] == 1
    assert (await client.get("/api/valuations?status=bogus", headers=admin)).status_code == 422


# --- policies -----------------------------------------------------------------------------------


async def test_admin_puts_policies_and_readers_list_them(client, as_role, book: Book) -> None:
    admin = as_role(Role.ADMIN)
    r = await client.put(
        "/api/policies/vehicle", json={"haircut": "0.30", "revaluation_days": 180, "max_ltv": "0.7"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "vehicle", "haircut": "0.30", "revaluation_days": 180, "max_ltv": "0.7"}
    r = await client.put(
        "/api/policies/vehicle", json={"haircut": "0.35", "revaluation_days": 90, "max_ltv": "0.7"}, headers=admin
    )
    assert r.json()["haircut"] == "0.35"
    await client.put(
        "/api/policies/real_estate", json={"haircut": "0", "revaluation_days": 365, "max_ltv": "10"}, headers=admin
    )
    listed = (await client.get("/api/policies", headers=as_role(Role.DISPOSAL_OFFICER))).json()
    assert [(p["kind"], p["revaluation_days"]) for p in listed] == [("real_estate", 365), ("vehicle", 90)]
    last = (await events())[-2]
    assert (last["entity"], last["entity_ref"], last["action"]) == ("policy", "vehicle", "update")
    assert '"haircut":"0.30"' in last["before"] and '"haircut":"0.35"' in last["after"]
    r = await client.put(
        "/api/policies/vehicle",
        json={"haircut": "0.3", "revaluation_days": 1, "max_ltv": "1"},
        headers=as_role(Role.ASSET_MANAGER),
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("boat", {}, "kind"),
        ("vehicle", {"haircut": "1.5"}, "haircut"),
        ("vehicle", {"haircut": "-0.1"}, "haircut"),
        ("vehicle", {"haircut": "0.3x"}, "haircut"),
        ("vehicle", {"haircut": 0.3}, "haircut"),
        ("vehicle", {"max_ltv": "10.01"}, "max_ltv"),
        ("vehicle", {"max_ltv": "0.1234567890123"}, "max_ltv"),
        ("vehicle", {"revaluation_days": 0}, "revaluation_days"),
        ("vehicle", {"revaluation_days": "thirty"}, "revaluation_days"),
        ("vehicle", {"revaluation_days": 40000}, "revaluation_days"),
    ],
)
async def test_bad_policies_are_422_naming_the_field(client, as_role, kind, payload, field) -> None:
    good = {"haircut": "0.3", "revaluation_days": 180, "max_ltv": "0.7"}
    r = await client.put(f"/api/policies/{kind}", json={**good, **payload}, headers=as_role(Role.ADMIN))
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    assert await AuditEvent.count() == 0


# --- the worklist -------------------------------------------------------------------------------


async def _approved(client, as_role, **extra: object) -> dict:
    v = await submit(client, as_role(Role.ASSET_MANAGER), **extra)
    r = await client.post(f"/api/valuations/{v['id']}/approve", headers=as_role(Role.ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


async def test_worklist_lists_missing_stale_and_unpoliced_assets(client, as_role, book: Book) -> None:
    admin, reader = as_role(Role.ADMIN), as_role(Role.CREDIT_OFFICER)
    await book.asset("A3")  # real estate, never valued
    await book.asset("A4", kind="equipment")  # valued, but equipment has no policy
    await book.asset("A5", status="disposed")  # no longer pledged: never listed
    await client.put(
        "/api/policies/real_estate", json={"haircut": "0.3", "revaluation_days": 365, "max_ltv": "0.7"}, headers=admin
    )
    await client.put(
        "/api/policies/vehicle", json={"haircut": "0.5", "revaluation_days": 30, "max_ltv": "0.5"}, headers=admin
    )
    await _approved(client, as_role, asset_ref="A1", valued_on="2025-06-30")  # exactly 365 days: not yet stale
    await _approved(client, as_role, asset_ref="A2", valued_on="2026-05-30")  # 31 days > 30: stale
    await _approved(client, as_role, asset_ref="A4", valued_on="2026-06-01")
    await submit(client, as_role(Role.ASSET_MANAGER), asset_ref="A3", valued_on="2026-06-01")  # not approved yet

    r = await client.get("/api/worklist/assets", headers=reader)
    assert r.status_code == 200, r.text
    items = {i["asset_ref"]: i for i in r.json()["items"]}
    assert [i["asset_ref"] for i in r.json()["items"]] == ["A3", "A2", "A4"]
    assert items["A3"]["reason"] == "no_valuation" and items["A3"]["last_valued_on"] is None
    assert items["A2"] == {
        "asset_ref": "A2",
        "kind": "vehicle",
        "status": "active",
        "reason": "stale",
        "last_valued_on": "2026-05-30",
        "revaluation_days": 30,
        "due_on": "2026-06-29",
        "days_overdue": 1,
        "owner_ref": "P1",
        "owner_name": "Party P1",
        "last_value": "1200000.00",
        "value_currency": "CNY",
    }
    assert items["A4"]["reason"] == "no_policy" and items["A4"]["revaluation_days"] is None

    # One day later A1 turns stale; as of an earlier date, valuations after it do not count.
    later = (await client.get("/api/worklist/assets?as_of=2026-07-01", headers=reader)).json()
    assert {i["asset_ref"]: i["reason"] for i in later["items"]}["A1"] == "stale"
    earlier = (await client.get("/api/worklist/assets?as_of=2026-05-29", headers=reader)).json()
    assert {i["asset_ref"]: i["reason"] for i in earlier["items"]} == {
        "A2": "no_valuation",
        "A3": "no_valuation",
        "A4": "no_valuation",
    }
    # The default date is the clock's today.
    clock.set_clock(lambda: NOW + timedelta(days=1))
    assert "A1" in {i["asset_ref"] for i in (await client.get("/api/worklist/assets", headers=reader)).json()["items"]}
    paged = (await client.get("/api/worklist/assets?page_size=2&page=2", headers=reader)).json()
    assert (paged["total"], len(paged["items"])) == (4, 2)


async def test_worklist_lists_registrations_expiring_within_the_window(client, as_role, book: Book) -> None:
    await book.asset("A9", status="disposed")
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    for ref, asset, days in [
        ("M-soon", "A1", 10),
        ("M-late", "A1", 90),
        ("M-past", "A2", -3),
        ("M-edge", "A2", 60),
        ("M-gone", "A9", 5),
    ]:
        await book.lien(ref, asset=asset, expires_on=(TODAY + timedelta(days=days)).isoformat())
        await book.register(ref, t0)
    await book.lien("M-draft", asset="A1", expires_on=(TODAY + timedelta(days=1)).isoformat())
    await book.lien("M-released", asset="A1", expires_on=(TODAY + timedelta(days=1)).isoformat())
    await book.register("M-released", t0)
    assert (await book.move("M-released", "released")).status_code == 200
    reader = as_role(Role.AUDITOR)
    r = (await client.get("/api/worklist/liens", headers=reader)).json()
    assert [(i["lien_ref"], i["days_left"]) for i in r["items"]] == [("M-past", -3), ("M-soon", 10), ("M-edge", 60)]
    assert r["items"][0]["registration_number"] == "REG-M-past" and r["items"][0]["asset_ref"] == "A2"
    r = (await client.get("/api/worklist/liens?within_days=120", headers=reader)).json()
    assert [i["lien_ref"] for i in r["items"]] == ["M-past", "M-soon", "M-edge", "M-late"]
    r = (
        await client.get(f"/api/worklist/liens?within_days=0&as_of={TODAY + timedelta(days=10)}", headers=reader)
    ).json()
    assert [(i["lien_ref"], i["days_left"]) for i in r["items"]] == [("M-past", -13), ("M-soon", 0)]
    assert (await client.get("/api/worklist/liens?within_days=-1", headers=reader)).status_code == 422


# --- bulk upload --------------------------------------------------------------------------------


def _csv(rows: list[str], header: str = "asset_id,valued_on,market_value,currency,method,appraiser") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


async def _upload(client, headers, content: bytes, filename: str = "valuations.csv"):
    return await client.post("/api/valuations/uploads", files={"file": (filename, content)}, headers=headers)


async def test_upload_creates_submitted_valuations_with_one_audit_event(client, as_role, book: Book) -> None:
    count = await AuditEvent.count()
    content = _csv(
        [
            "A1,2026-06-01,1200000.00,CNY,market_comparison,Shanghai Appraisal",
            " A2 , 2026-05-15 ,85000,CNY,desktop,Desk team",
            "A1,2026-06-01,1100000,CNY,income,Other Co",
        ]
    )
    r = await _upload(client, as_role(Role.ASSET_MANAGER), content)
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3 and r.json()["created"] == 3 and len(r.json()["sha256"]) == 64
    queue = (await client.get("/api/valuations?status=submitted", headers=as_role(Role.ADMIN))).json()
    assert queue["total"] == 3
    a2 = next(v for v in queue["items"] if v["asset_ref"] == "A2")
    assert (a2["valued_on"], a2["market_value"], a2["appraiser"], a2["submitted_by"]) == (
        "2026-05-15",
        "85000.00",
        "Desk team",
        "asset_manager1",
    )
    assert await AuditEvent.count() == count + 1
    event = (await events())[-1]
    assert (event["entity"], event["action"]) == ("valuation_upload", "upload")
    assert r.json()["sha256"] in event["after"] and '"created":3' in event["after"]
    # Four eyes still hold for uploaded valuations.
    r = await client.post(f"/api/valuations/{a2['id']}/approve", headers=as_role(Role.ASSET_MANAGER))
    assert r.status_code == 403


async def test_upload_reads_parquet_with_typed_columns(client, as_role, book: Book) -> None:
    frame = pl.DataFrame(
        {
            "asset_id": ["A1"],
            "valued_on": [date(2026, 6, 2)],
            "market_value": [950000.5],
            "currency": ["CNY"],
            "method": ["cost"],
            "appraiser": ["Typed Co"],
        }
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    r = await _upload(client, as_role(Role.ADMIN), buffer.getvalue(), "batch.parquet")
    assert r.status_code == 201, r.text
    v = (await client.get("/api/assets/A1/valuations", headers=as_role(Role.ADMIN))).json()["items"][0]
    assert (v["valued_on"], v["market_value"], v["method"]) == ("2026-06-02", "950000.50", "cost")


async def test_upload_with_any_bad_row_is_refused_whole_with_every_error(client, as_role, book: Book) -> None:
    await submit(client, as_role(Role.ASSET_MANAGER))  # A1, 2026-06-01, market_comparison already exists
    count, valuations = await AuditEvent.count(), await Valuation.count()
    content = _csv(
        [
            "A1,2026-05-01,100.00,CNY,cost,Good row",
            "NOPE,2026-05-01,100.00,CNY,cost,Unknown asset",
            "A2,2026-13-01,1.234,XXX,guess,",
            "A2,2099-01-01,100,CNY,cost,Future",
            "A1,2026-06-01,100.00,CNY,market_comparison,Already there",
            "A2,2026-05-01,100.00,CNY,cost,First",
            "A2,2026-05-01,200.00,CNY,cost,Duplicate in file",
        ]
    )
    r = await _upload(client, as_role(Role.ASSET_MANAGER), content)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    found = {(e["row"], e["column"]) for e in problem["errors"]}
    assert found == {
        (2, "asset_id"),
        (3, "valued_on"),
        (3, "currency"),
        (3, "method"),
        (3, "appraiser"),
        (4, "valued_on"),
        (5, "valued_on"),
        (7, "valued_on"),
    }, problem["errors"]
    # An amount's decimals are judged against its currency, so with an unknown currency only that is reported.
    assert problem["error_count"] == 8
    assert all(e["file"] == "valuations.csv" for e in problem["errors"])
    reasons = {(e["row"], e["column"]): e["reason"] for e in problem["errors"]}
    assert reasons[(2, "asset_id")] == "no asset with ref NOPE"
    assert "in the future" in reasons[(4, "valued_on")]
    assert "already has a valuation" in reasons[(5, "valued_on")]
    assert await AuditEvent.count() == count and await Valuation.count() == valuations


async def test_upload_refuses_wrong_columns_files_and_types(client, as_role, book: Book) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    r = await _upload(
        client, manager, _csv(["A1,2026-06-01,1,CNY,cost"], header="asset_id,valued_on,market_value,currency,method")
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"file": "valuations.csv", "row": 0, "column": "appraiser", "reason": "required column is missing"}
    ]
    r = await _upload(client, manager, b"hello", "valuations.xlsx")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"
    r = await _upload(client, manager, _csv([]))
    assert r.status_code == 422 and r.json()["error_count"] == 1
    r = await client.post(
        "/api/valuations/uploads", files={"a": ("a.csv", b"x"), "b": ("b.csv", b"y")}, headers=manager
    )
    assert r.status_code == 422
    assert await Valuation.count() == 0
    r = await _upload(client, as_role(Role.CREDIT_OFFICER), _csv(["A1,2026-06-01,1,CNY,cost,X"]))
    assert r.status_code == 403


# --- the pages ----------------------------------------------------------------------------------


async def _signed_in(client, users, role: Role) -> None:
    from tests.integration.conftest import PASSWORDS

    r = await client.post("/login", data={"username": users[role], "password": PASSWORDS[role]})
    assert r.status_code == 303, r.text


async def test_queue_page_decides_with_htmx_and_shows_refusals_in_place(client, as_role, users, book: Book) -> None:
    mine = await submit(client, as_role(Role.ASSET_MANAGER))
    theirs = await submit(client, as_role(Role.ADMIN), asset_ref="A2")
    await _signed_in(client, users, Role.ASSET_MANAGER)
    page = await client.get("/valuations")
    assert page.status_code == 200
    assert f'hx-post="/valuations/{theirs["id"]}/approve' in page.text
    assert f'hx-post="/valuations/{mine["id"]}/approve' not in page.text  # four eyes: no button on one's own
    hx = {"HX-Request": "true"}
    r = await client.post(f"/valuations/{mine['id']}/approve", headers=hx)
    assert r.status_code == 200 and "another user must approve it" in r.text and 'id="queue"' in r.text
    r = await client.post(f"/valuations/{theirs['id']}/reject", data={"reason": "wrong asset"}, headers=hx)
    assert r.status_code == 200 and "<html" not in r.text
    assert f"Valuation {theirs['id']} of A2 rejected." in r.text and f'data-id="{theirs["id"]}"' not in r.text
    assert (await client.get(f"/api/valuations/{theirs['id']}", headers=as_role(Role.AUDITOR))).json()["reason"] == (
        "wrong asset"
    )
    r = await client.post(f"/valuations/{mine['id']}/reject", data={"reason": " "})
    # Without htmx the refusal is said above the queue too, with its status, never an error page of its own.
    assert r.status_code == 422 and "say why" in r.text and 'data-testid="queue-error"' in r.text
    assert "error-page" not in r.text and 'data-testid="valuation-queue"' in r.text
    r = await client.post(f"/valuations/{mine['id']}/approve")
    assert r.status_code == 403 and "another user must approve it" in r.text and 'data-testid="queue-error"' in r.text
    worklist = await client.get("/worklist?reason=no_valuation")
    assert worklist.status_code == 200 and 'data-ref="A1"' in worklist.text
    assert (await client.get("/worklist?reason=bogus")).status_code == 422
