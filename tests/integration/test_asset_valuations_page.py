"""An asset's page shows its value and valuation history, and an asset manager records a valuation there (typed with
thousands separators); a refusal stays on the page beside its field; another asset manager approves it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from registry.roles import Role
from tests.integration.disposal_book import two_asset_lot, user_headers

pytestmark = pytest.mark.integration


async def test_the_page_shows_the_value_and_records_a_valuation(client: httpx.AsyncClient, as_role: Any, app) -> None:
    await two_asset_lot(client, as_role)
    manager = as_role(Role.ASSET_MANAGER)
    page = await client.get("/assets/A1", headers=manager)
    assert page.status_code == 200
    assert re.search(r'data-testid="current-value">Approved value <strong>600,000.00 CNY</strong>', page.text)
    assert 'data-testid="valuation-history"' in page.text and 'data-testid="valuation-form"' in page.text
    form = {
        "valued_on": "2026-11-20",
        "market_value": "1,250,000.00",
        "forced_sale_value": "",
        "currency": "cny",
        "method": "market_comparison",
        "appraiser": "Shanghai Appraisal Co.",
    }
    r = await client.post("/assets/A1/valuations", headers=manager, data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/assets/A1?recorded=")
    queued = (await client.get("/api/valuations?status=submitted", headers=manager)).json()["items"]
    assert [(v["asset_ref"], v["market_value"], v["currency"]) for v in queued] == [("A1", "1250000.00", "CNY")]
    # Not yet the value: it waits for a second asset manager.
    again = await client.get(r.headers["location"], headers=manager)
    assert "600,000.00 CNY" in again.text and 'data-testid="valuation-recorded"' in again.text
    second = await user_headers(app, "asset_manager_two", Role.ASSET_MANAGER)
    approved = await client.post(f"/api/valuations/{queued[0]['id']}/approve", headers=second)
    assert approved.status_code == 200, approved.text
    assert "1,250,000.00 CNY" in (await client.get("/assets/A1", headers=manager)).text


async def test_a_refused_valuation_stays_on_the_page_beside_its_field(client: httpx.AsyncClient, as_role: Any) -> None:
    await two_asset_lot(client, as_role)
    manager = as_role(Role.ASSET_MANAGER)
    form = {"valued_on": "2099-01-01", "market_value": "12,34", "currency": "CNY", "method": "", "appraiser": "X"}
    r = await client.post("/assets/A1/valuations", headers=manager, data=form)
    assert r.status_code == 422
    assert 'data-testid="form-errors"' in r.text
    assert 'data-field="method"' in r.text  # the missing method is named beside its control
    assert (await client.get("/api/valuations?status=submitted", headers=manager)).json()["total"] == 0


async def test_only_asset_managers_and_admins_record_valuations(client: httpx.AsyncClient, as_role: Any) -> None:
    await two_asset_lot(client, as_role)
    credit = as_role(Role.CREDIT_OFFICER)
    page = await client.get("/assets/A1", headers=credit)
    assert page.status_code == 200 and 'data-testid="valuation-form"' not in page.text
    form = {"valued_on": "2026-11-20", "market_value": "1.00", "currency": "CNY", "method": "desktop", "appraiser": "X"}
    r = await client.post("/assets/A1/valuations", headers=credit, data=form)
    assert r.status_code == 403


async def test_the_queue_shows_what_a_valuation_replaces_and_the_reports(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    await two_asset_lot(client, as_role)  # A1 approved at 600,000.00
    manager = as_role(Role.ASSET_MANAGER)
    r = await client.post(
        "/api/documents",
        headers=manager,
        data={"entity": "asset", "entity_ref": "A1"},
        files={"file": ("appraisal-report-A1.pdf", b"%PDF-1.4 report", "application/pdf")},
    )
    assert r.status_code == 201, r.text
    form = {
        "valued_on": "2026-11-20",
        "market_value": "660,000.00",
        "currency": "CNY",
        "method": "desktop",
        "appraiser": "X",
    }
    assert (await client.post("/assets/A1/valuations", headers=manager, data=form)).status_code == 303
    queue = await client.get("/valuations", headers=as_role(Role.ADMIN))
    row = queue.text.split('data-asset="A1"', 1)[1].split("</tr>", 1)[0]
    assert "600,000.00 CNY" in row and 'data-testid="value-change">+10.0%<' in row
    assert "appraisal-report-A1.pdf" in row


async def test_the_queue_shows_comparables_nearby_or_why_there_are_none(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    from tests.integration.disposal_book import appraise
    from tests.integration.test_parcels import rect

    b = await two_asset_lot(client, as_role)  # A1 and A2 have no parcel
    await b.asset("S1", geometry=rect(0, 0, 50, 50))
    await b.asset("N1", geometry=rect(200, 0, 300, 100))  # 10,000 m², about 225 m away
    await appraise(client, as_role, "N1", "50000000.00", valued_on="2026-06-30")
    manager = as_role(Role.ASSET_MANAGER)
    for ref in ("S1", "A1"):
        form = {"valued_on": "2026-11-20", "market_value": "1,000,000.00", "currency": "CNY", "method": "desktop"}
        r = await client.post(f"/assets/{ref}/valuations", headers=manager, data={**form, "appraiser": "X"})
        assert r.status_code == 303, r.text
    queue = (await client.get("/valuations", headers=as_role(Role.ADMIN))).text
    s1 = queue.split('data-asset="S1"', 1)[1].split("</tr>", 1)[0]
    assert 'href="/assets/N1"' in s1 and re.search(r"5,0\d\d\.\d\d CNY/m²", s1)  # 10,000 m² (geodesic) for 50M
    a1 = queue.split('data-asset="A1"', 1)[1].split("</tr>", 1)[0]
    assert "no parcel to compare from" in a1
