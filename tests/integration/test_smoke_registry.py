from __future__ import annotations

import pytest

from registry.roles import Role

pytestmark = pytest.mark.integration


async def test_party_create_and_read_back(client, as_role) -> None:
    r = await client.post(
        "/api/parties", json={"ref": "P1", "name": "Acme", "kind": "company"}, headers=as_role(Role.ASSET_MANAGER)
    )
    assert r.status_code == 201, r.text
    r = await client.get("/api/parties/P1", headers=as_role(Role.AUDITOR))
    assert r.json()["name"] == "Acme"
