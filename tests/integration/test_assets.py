from __future__ import annotations

import pytest

from registry.roles import Role
from tests.integration.factory import Book, count

pytestmark = pytest.mark.integration

PARCEL = {
    "type": "Polygon",
    "coordinates": [[[121.0, 31.0], [121.001, 31.0], [121.001, 31.001], [121.0, 31.001], [121.0, 31.0]]],
}


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1", name="Shanghai Hengda Trading Co.")
    await b.party("P2", kind="individual", name="Wang Wei")
    return b


async def test_create_with_parcel_and_identifiers_then_search_and_filter(client, as_role, book: Book) -> None:
    await book.asset(
        "A1",
        geometry=PARCEL,
        identifiers={"certificate_no": "沪(2021)浦字第001234号"},
        address="88 Century Ave, Pudong",
    )
    await book.asset("V1", owner="P2", kind="vehicle", identifiers={"vin": "LSVAU2180N2183294"})
    await book.asset("E1", kind="equipment", status="seized", description="CNC lathe line")
    headers = as_role(Role.CREDIT_OFFICER)
    assert await count(client, headers, "/api/assets?kind=vehicle") == 1
    assert await count(client, headers, "/api/assets?status=seized") == 1
    assert await count(client, headers, "/api/assets?owner_ref=P2") == 1
    assert await count(client, headers, "/api/assets?q=LSVAU") == 1
    assert await count(client, headers, "/api/assets?q=century") == 1
    assert await count(client, headers, "/api/assets?q=hengda") == 2  # by owner name
    asset = (await client.get("/api/assets/A1", headers=headers)).json()
    assert asset["geometry"] == PARCEL
    assert asset["owner_name"] == "Shanghai Hengda Trading Co."
    assert asset["identifiers"] == {"certificate_no": "沪(2021)浦字第001234号"}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {
                "kind": "real_estate",
                "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            },
            "geometry",
            "Self-intersection",
        ),
        ({"kind": "vehicle", "geometry": PARCEL}, "geometry", "only real_estate and land_use_right"),
        ({"kind": "spaceship"}, "kind", "Invalid enum value"),
        ({"kind": "real_estate", "ref": "has space"}, "ref", "a ref is"),
        ({"kind": "real_estate", "owner_ref": "NOPE"}, "owner_ref", "no party"),
    ],
)
async def test_bad_asset_refused_nothing_written(client, as_role, book: Book, body, field, reason) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    payload = {"ref": "A9", "owner_ref": "P1", **body}
    r = await client.post("/api/assets", json=payload, headers=headers)
    assert r.status_code in (404, 422), r.text
    problem = r.json()
    assert problem.get("field") == field or any(e["field"] == field for e in problem.get("errors", []))
    assert reason in problem["detail"]
    assert await count(client, headers, "/api/assets") == 0
    audit = (await client.get("/api/audit?entity=asset", headers=as_role(Role.AUDITOR))).json()
    assert audit["total"] == 0


async def test_update_geometry_status_and_audit_before_after(client, as_role, book: Book) -> None:
    await book.asset("A1")
    headers = as_role(Role.ASSET_MANAGER)
    r = await client.patch("/api/assets/A1", json={"geometry": PARCEL, "status": "seized"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "seized"
    assert r.json()["geometry"] == PARCEL
    bad = await client.patch(
        "/api/assets/A1", json={"geometry": {"type": "Polygon", "coordinates": [[[0, 0]]]}}, headers=headers
    )
    assert bad.status_code == 422
    events = (await client.get("/api/audit?entity_ref=A1", headers=as_role(Role.AUDITOR))).json()["items"]
    assert [e["action"] for e in events] == ["update", "create"]
    assert events[0]["before"]["status"] == "active"
    assert events[0]["after"]["status"] == "seized"
