"""One paging dependency for every list: a page number beyond MAX_PAGE is refused as bad input (422 with the
field), never a database overflow (500); a page past the last one is an empty page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from registry.roles import Role
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

HUGE = "99999999999999999999"
API_LISTS = [
    "/api/parties",
    "/api/loans",
    "/api/assets",
    "/api/liens",
    "/api/documents",
    "/api/audit",
    "/api/registry/overlaps",
    "/api/valuations",
    "/api/worklist/assets",
    "/api/worklist/liens",
    "/api/coverage/loans",
    "/api/coverage/borrowers",
]
PAGES = ["/assets", "/overlaps", "/valuations", "/worklist", "/coverage/loans"]


@pytest.mark.parametrize("url", API_LISTS)
async def test_a_huge_page_number_is_422(client: httpx.AsyncClient, as_role: Any, url: str) -> None:
    r = await client.get(url, params={"page": HUGE}, headers=as_role(Role.ADMIN))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["page"]


async def test_a_page_past_the_last_is_empty(client: httpx.AsyncClient, as_role: Any) -> None:
    await Book(client, as_role).party("P1")
    r = await client.get("/api/parties", params={"page": 1_000_000, "page_size": 200}, headers=as_role(Role.ADMIN))
    assert r.status_code == 200
    assert r.json() == {"items": [], "total": 1, "page": 1_000_000, "page_size": 200}


@pytest.mark.parametrize("url", PAGES)
async def test_a_huge_page_number_on_a_page_is_an_error_page(client: httpx.AsyncClient, as_role: Any, url: str) -> None:
    r = await client.get(url, params={"page": HUGE}, headers=as_role(Role.ADMIN))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "page" in r.text
