"""A parcel drawn over another owner's parcel shows up as a coverage flag of the loans it secures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.roles import Role
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


def _square(lon: float, lat: float, side: float = 0.001) -> dict:
    ring = [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


async def test_overlapping_parcel_flags_the_loans_it_secures(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    await book.party("P2")
    await book.loan("L1", "P1", principal="1000.00")
    await book.loan("L2", "P2", principal="1000.00")
    await book.asset("A1", geometry=_square(121.0, 31.0))
    await book.asset("A2", owner="P2", geometry=_square(121.0005, 31.0))  # half of A1
    await book.asset("A3", owner="P2", geometry=_square(121.01, 31.0))  # far away
    await book.lien("M1", asset="A1", loans=["L1"])
    await book.lien("M3", asset="A3", loans=["L2"])
    for lien in ("M1", "M3"):
        await book.register(lien, datetime(2026, 1, 5, tzinfo=UTC))
    admin, manager = as_role(Role.ADMIN), as_role(Role.ASSET_MANAGER)
    r = await client.put(
        "/api/policies/real_estate", headers=admin, json={"haircut": "0.30", "revaluation_days": 365, "max_ltv": "0.70"}
    )
    assert r.status_code == 200, r.text
    for asset in ("A1", "A3"):
        r = await client.post(
            "/api/valuations",
            headers=manager,
            json={
                "asset_ref": asset,
                "valued_on": "2026-06-30",
                "market_value": "5000.00",
                "currency": "CNY",
                "method": "market_comparison",
                "appraiser": "Shanghai Appraisal Co.",
            },
        )
        assert r.status_code == 201, r.text
        approved = await client.post(f"/api/valuations/{r.json()['id']}/approve", headers=admin)
        assert approved.status_code == 200, approved.text

    overlaps = (await client.get("/api/registry/overlaps", headers=manager)).json()
    assert overlaps["total"] == 1

    credit = as_role(Role.CREDIT_OFFICER)
    flagged = (await client.get("/api/coverage/loans/L1?as_of=2026-11-01", headers=credit)).json()
    clean = (await client.get("/api/coverage/loans/L2?as_of=2026-11-01", headers=credit)).json()
    assert flagged["possible_double_pledge"] is True, flagged
    assert flagged["contributions"][0]["possible_double_pledge"] is True
    assert clean["possible_double_pledge"] is False, clean
