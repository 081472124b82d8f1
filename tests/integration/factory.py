"""Builders that create registry rows through the JSON API, as a user would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from registry.roles import Role


class Book:
    def __init__(self, client: httpx.AsyncClient, as_role: Any) -> None:
        self.client = client
        self.manager = as_role(Role.ASSET_MANAGER)
        self.credit = as_role(Role.CREDIT_OFFICER)

    async def _ok(self, method: str, url: str, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        response = await self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code in (200, 201), f"{method} {url}: {response.status_code} {response.text}"
        return response.json()

    async def party(self, ref: str = "P1", **extra: Any) -> dict[str, Any]:
        body = {"ref": ref, "name": f"Party {ref}", "kind": "company", **extra}
        return await self._ok("POST", "/api/parties", self.manager, json=body)

    async def loan(
        self, ref: str = "L1", borrower: str = "P1", principal: str | None = None, currency: str = "CNY", **extra: Any
    ) -> dict[str, Any]:
        loan = await self._ok(
            "POST",
            "/api/loans",
            self.credit,
            json={"ref": ref, "borrower_ref": borrower, "currency": currency, **extra},
        )
        if principal:
            await self.post(ref, "disbursement", principal=principal)
        return loan

    async def post(self, loan: str, kind: str, value_date: str = "2026-01-15", **amounts: str) -> dict[str, Any]:
        return await self._ok(
            "POST", f"/api/loans/{loan}/postings", self.credit, json={"kind": kind, "value_date": value_date, **amounts}
        )

    async def valuation(
        self, asset: str, market_value: str, admin: dict[str, str], valued_on: str = "2026-06-30"
    ) -> dict[str, Any]:
        """A valuation entered by the asset manager and approved by a second person (the admin given)."""
        body = {
            "asset_ref": asset,
            "valued_on": valued_on,
            "market_value": market_value,
            "currency": "CNY",
            "method": "market_comparison",
            "appraiser": "Shanghai Appraisal Co.",
        }
        entered = await self._ok("POST", "/api/valuations", self.manager, json=body)
        return await self._ok("POST", f"/api/valuations/{entered['id']}/approve", admin)

    async def asset(
        self, ref: str = "A1", owner: str = "P1", kind: str = "real_estate", **extra: Any
    ) -> dict[str, Any]:
        return await self._ok(
            "POST", "/api/assets", self.manager, json={"ref": ref, "kind": kind, "owner_ref": owner, **extra}
        )

    async def lien(
        self, ref: str, asset: str = "A1", loans: list[str] | None = None, holder: str = "own", **extra: Any
    ) -> dict[str, Any]:
        body = {
            "ref": ref,
            "asset_ref": asset,
            "kind": "mortgage",
            "currency": "CNY",
            "holder": holder,
            "loan_refs": loans if loans is not None else (["L1"] if holder == "own" else []),
            **extra,
        }
        return await self._ok("POST", "/api/liens", self.manager, json=body)

    async def move(self, lien: str, to: str, **extra: Any) -> httpx.Response:
        return await self.client.post(f"/api/liens/{lien}/registration", headers=self.manager, json={"to": to, **extra})

    async def register(self, lien: str, perfected_at: datetime, number: str | None = None) -> dict[str, Any]:
        r = await self.move(lien, "submitted")
        assert r.status_code == 200, r.text
        r = await self.move(
            lien, "registered", registration_number=number or f"REG-{lien}", perfected_at=perfected_at.isoformat()
        )
        assert r.status_code == 200, r.text
        return r.json()


async def count(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> int:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["total"])
