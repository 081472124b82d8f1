"""A small book for disposal tests, built through the API, with a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from registry import clock
from registry.roles import Role
from tests.integration.factory import Book

SECOND_OFFICER = "disposal_officer2"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start
        clock.set_clock(lambda: self.at)

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def policy(client: httpx.AsyncClient, admin: dict[str, str], kind: str, days: int = 365) -> None:
    r = await client.put(
        f"/api/policies/{kind}", headers=admin, json={"haircut": "0.30", "revaluation_days": days, "max_ltv": "0.70"}
    )
    assert r.status_code == 200, r.text


async def appraise(
    client: httpx.AsyncClient, as_role: Any, asset: str, value: str, valued_on: str = "2026-01-10"
) -> dict[str, Any]:
    r = await client.post(
        "/api/valuations",
        headers=as_role(Role.ASSET_MANAGER),
        json={
            "asset_ref": asset,
            "valued_on": valued_on,
            "market_value": value,
            "currency": "CNY",
            "method": "market_comparison",
            "appraiser": "Shanghai Appraisal Co.",
        },
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/valuations/{r.json()['id']}/approve", headers=as_role(Role.ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


async def two_asset_lot(client: httpx.AsyncClient, as_role: Any) -> Book:
    """P1 owns A1 (flat, appraised 600,000.00) and A2 (parking space, 300,000.00).

    A1: M1 own, registered 2026-01-05, secures L1 (principal 500,000.00, interest 20,000.00)
        X1 Bank of Example's mortgage, registered 2026-01-03 (ranks first), external claim 100,000.00
    A2: M2 own, registered 2026-01-05, secures L1 and L2 (principal 300,000.00, fees 1,000.00)
    """
    b = Book(client, as_role)
    await policy(client, as_role(Role.ADMIN), "real_estate")
    await b.party("P1")
    await b.loan("L1", "P1", principal="500000.00")
    await b.post("L1", "accrual", interest="20000.00")
    await b.loan("L2", "P1", principal="300000.00")
    await b.post("L2", "accrual", fees="1000.00")
    await b.asset("A1")
    await b.asset("A2")
    await appraise(client, as_role, "A1", "600000.00")
    await appraise(client, as_role, "A2", "300000.00")
    await b.lien("M1", asset="A1", loans=["L1"])
    await b.lien("X1", asset="A1", holder="Bank of Example", external_claim="100000.00")
    await b.lien("M2", asset="A2", loans=["L1", "L2"])
    await b.register("X1", datetime(2026, 1, 3, 2, tzinfo=UTC))
    await b.register("M1", datetime(2026, 1, 5, 2, tzinfo=UTC))
    await b.register("M2", datetime(2026, 1, 5, 2, tzinfo=UTC))
    return b


async def second_officer_headers(app: Any) -> dict[str, str]:
    from registry.services.users import active_user, create_user

    if await active_user(SECOND_OFFICER) is None:
        await create_user(SECOND_OFFICER, "second-officer-pass", Role.DISPOSAL_OFFICER, "test-setup")
    token = app.state.jwt_auth.create_token(identifier=SECOND_OFFICER, token_extras={"role": "disposal_officer"})
    return {"Authorization": f"Bearer {token}"}


async def user_headers(app: Any, username: str, role: Role) -> dict[str, str]:
    """A user of the role (created once) and a bearer token for it."""
    from registry.services.users import active_user, create_user

    if await active_user(username) is None:
        await create_user(username, f"{username}-password", role, "test-setup")
    token = app.state.jwt_auth.create_token(identifier=username, token_extras={"role": role.value})
    return {"Authorization": f"Bearer {token}"}
