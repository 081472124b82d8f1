from __future__ import annotations

import pytest

from registry.roles import Role
from tests.integration.factory import count

pytestmark = pytest.mark.integration


async def test_create_list_filter_update(client, as_role) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    for ref, name, kind in [
        ("P1", "Zhejiang Huayu Textiles", "company"),
        ("P2", "Chen Jing", "individual"),
        ("P3", "Huayu Holdings", "company"),
    ]:
        assert (
            await client.post("/api/parties", json={"ref": ref, "name": name, "kind": kind}, headers=headers)
        ).status_code == 201
    assert await count(client, headers, "/api/parties?q=huayu") == 2
    assert await count(client, headers, "/api/parties?kind=individual") == 1
    r = await client.patch("/api/parties/P2", json={"status": "bankrupt"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["status"] == "bankrupt"
    assert await count(client, headers, "/api/parties?status=bankrupt") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ref": "P9", "name": "   ", "kind": "company"}, "name"),
        ({"ref": "P9", "name": "X", "kind": "trust"}, "kind"),
        ({"ref": "", "name": "X", "kind": "company"}, "ref"),
        ({"ref": "P9", "name": "X", "kind": "company", "colour": "red"}, "colour"),
        ({"name": "X", "kind": "company"}, "ref"),
    ],
)
async def test_bad_party_is_422_naming_field(client, as_role, body, field) -> None:
    r = await client.post("/api/parties", json=body, headers=as_role(Role.ASSET_MANAGER))
    assert r.status_code == 422, r.text
    assert any(field in e["field"] or field in e["reason"] for e in r.json()["errors"]), r.json()
    assert await count(client, as_role(Role.AUDITOR), "/api/parties") == 0


async def test_duplicate_ref_is_409_and_unknown_is_404(client, as_role) -> None:
    headers = as_role(Role.ASSET_MANAGER)
    body = {"ref": "P1", "name": "A", "kind": "company"}
    assert (await client.post("/api/parties", json=body, headers=headers)).status_code == 201
    assert (await client.post("/api/parties", json=body, headers=headers)).status_code == 409
    assert (await client.get("/api/parties/P404", headers=headers)).status_code == 404
    assert (await client.patch("/api/parties/P404", json={"name": "B"}, headers=headers)).status_code == 404


async def test_malformed_json_is_a_4xx_problem_not_500(client, as_role) -> None:
    r = await client.post(
        "/api/parties", content=b"{not json", headers={**as_role(Role.ADMIN), "content-type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_search_takes_percent_underscore_and_backslash_literally(client, as_role) -> None:
    from tests.integration.factory import Book

    headers = as_role(Role.ASSET_MANAGER)
    book = Book(client, as_role)
    for ref, name in [("P1", "100% Cotton"), ("P2", "Acme_Corp"), ("P3", "AcmeXCorp"), ("P4", "Back\\slash Co")]:
        await book.party(ref, name=name)
    assert await count(client, headers, "/api/parties?q=Acme") == 2
    assert await count(client, headers, "/api/parties?q=%25") == 1
    assert await count(client, headers, "/api/parties?q=_") == 1
    assert await count(client, headers, "/api/parties?q=Acme_Corp") == 1
    assert await count(client, headers, "/api/parties?q=%5C") == 1
    assert await count(client, headers, "/api/parties?q=%5Cs") == 1
    assert await count(client, headers, "/api/parties?q=%25%25") == 0
    await book.loan("L_1", borrower="P1")
    await book.loan("LX1", borrower="P1")
    credit = as_role(Role.CREDIT_OFFICER)
    assert await count(client, credit, "/api/loans?q=L_1") == 1
    assert await count(client, credit, "/api/loans?q=%25") == 0
    assert await count(client, headers, "/api/assets?q=%25") == 0
