"""Every create reports every bad field of its body at once, in one 422, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from registry.roles import Role
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[121.0, 31.0], [121.001, 31.0], [121.001, 31.001], [121.0, 31.001], [121.0, 31.0]]],
}


async def refused_fields(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: dict[str, Any]
) -> set[str]:
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in r.json()["errors"]}


async def test_party(client: httpx.AsyncClient, as_role: Any) -> None:
    body = {"ref": "no spaces allowed", "name": "   ", "kind": "company"}
    assert await refused_fields(client, "/api/parties", as_role(Role.ASSET_MANAGER), body) == {"ref", "name"}
    r = await client.get("/api/parties", headers=as_role(Role.AUDITOR))
    assert r.json()["total"] == 0


async def test_loan(client: httpx.AsyncClient, as_role: Any) -> None:
    await Book(client, as_role).party("P1")
    body = {"ref": "-bad", "borrower_ref": "P1", "currency": "XYZ", "interest_rate": "eleven"}
    fields = await refused_fields(client, "/api/loans", as_role(Role.CREDIT_OFFICER), body)
    assert fields == {"ref", "currency", "interest_rate"}


async def test_asset(client: httpx.AsyncClient, as_role: Any) -> None:
    await Book(client, as_role).party("P1")
    body = {
        "ref": "bad ref",
        "kind": "vehicle",
        "owner_ref": "P1",
        "identifiers": {"vin": "  ", "plate": "沪A12345"},
        "geometry": SQUARE,
    }
    fields = await refused_fields(client, "/api/assets", as_role(Role.ASSET_MANAGER), body)
    assert fields == {"ref", "geometry", "identifiers.vin"}


async def test_lien(client: httpx.AsyncClient, as_role: Any) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    await book.loan("L1")
    await book.asset("A1")
    body = {
        "ref": "bad/ref",
        "asset_ref": "A1",
        "kind": "mortgage",
        "currency": "CNY",
        "holder": "own",
        "loan_refs": ["L1"],
        "cap": "12.345",
        "external_claim": "100.00",
    }
    fields = await refused_fields(client, "/api/liens", as_role(Role.ASSET_MANAGER), body)
    assert fields == {"ref", "cap", "external_claim"}

    body = {**body, "holder": " ", "currency": "ABC", "cap": None, "external_claim": None}
    fields = await refused_fields(client, "/api/liens", as_role(Role.ASSET_MANAGER), body)
    assert fields == {"ref", "currency", "holder"}
