"""The risk-warning home page (DESIGN 9): a figure per signal, each the count of the list it opens, the role's own
signals first, and nothing for a role that reads no registry."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from registry import clock
from registry.roles import Role
from tests.integration.disposal_book import appraise, two_asset_lot

pytestmark = pytest.mark.integration


def figures(html: str) -> dict[str, int]:
    return {k: int(v.replace(",", "")) for k, v in re.findall(r'data-testid="signal-([a-z_]+)">([\d,]+)<', html)}


def order(html: str, testid: str) -> list[str]:
    block = html.split(f'data-testid="{testid}"', 1)[1].split("</ul>\n", 1)[0] if testid in html else ""
    return re.findall(r'data-signal="([a-z_]+)"', block)


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Any:
    b = await two_asset_lot(client, as_role)
    await b.asset("A3")  # never valued: on the worklist
    today = clock.today()
    await b.lien("M3", asset="A2", loans=["L2"])
    r = await b.move("M3", "submitted")
    assert r.status_code == 200, r.text
    r = await b.move(
        "M3",
        "registered",
        registration_number="REG-M3",
        perfected_at=datetime(2026, 1, 6, 2, tzinfo=UTC).isoformat(),
        expires_on=(today + timedelta(days=10)).isoformat(),
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/valuations",
        headers=as_role(Role.ASSET_MANAGER),
        json={
            "asset_ref": "A3",
            "valued_on": (today - timedelta(days=3)).isoformat(),
            "market_value": "100000.00",
            "currency": "CNY",
            "method": "market_comparison",
            "appraiser": "Shanghai Appraisal Co.",
        },
    )
    assert r.status_code == 201, r.text  # submitted, waiting for a second pair of eyes
    return b


async def test_each_figure_is_the_count_of_the_list_it_opens(client: httpx.AsyncClient, as_role: Any, book) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    r = await client.get("/home", headers=manager)
    assert r.status_code == 200, r.text
    shown = figures(r.text)
    assert (shown["approvals"], shown["valuations_due"], shown["registrations"]) == (1, 1, 1)
    summary = (await client.get("/api/coverage/summary", headers=manager)).json()
    breaches = sum(p["breaches"] for p in summary["portfolio"])
    assert breaches > 0
    assert shown["breach"] == breaches
    listed = await client.get("/coverage/loans?flag=breach", headers=manager)
    assert re.search(rf'data-testid="total">{breaches}<', listed.text)
    assert listed.text.count('class="breach-row"') == breaches
    # The filter does filter: no loan here lacks a valuation, though the unfiltered list has loans.
    unvalued = await client.get("/coverage/loans?flag=no_valuation", headers=manager)
    assert 'data-testid="no-loans"' in unvalued.text and "carries this flag" in unvalued.text
    every = await client.get("/coverage/loans", headers=manager)
    assert int(re.search(r'data-testid="total">(\d+)<', every.text)[1]) == breaches
    queue = (await client.get("/api/valuations?status=submitted", headers=manager)).json()
    assert queue["total"] == shown["approvals"]


async def test_the_roles_own_signals_come_first(client: httpx.AsyncClient, as_role: Any, book) -> None:
    manager = (await client.get("/home", headers=as_role(Role.ASSET_MANAGER))).text
    assert order(manager, "own-signals")[:2] == ["approvals", "valuations_due"]
    credit = (await client.get("/home", headers=as_role(Role.CREDIT_OFFICER))).text
    assert order(credit, "own-signals")[0] == "breach"
    officer = (await client.get("/home", headers=as_role(Role.DISPOSAL_OFFICER))).text
    assert order(officer, "own-signals")[0] == "cases_due"
    auditor = (await client.get("/home", headers=as_role(Role.AUDITOR))).text
    assert order(auditor, "own-signals") == [] and "breach" in order(auditor, "other-signals")
    bidder = await client.get("/home", headers=as_role(Role.BIDDER))
    assert bidder.status_code == 200 and figures(bidder.text) == {}


async def test_an_unknown_flag_is_refused_naming_it(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.get("/coverage/loans?flag=rich", headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 422
    assert "flag" in r.text


async def test_a_book_that_needs_exchange_rates_shows_why_instead_of_a_figure(
    client: httpx.AsyncClient, as_role: Any, book
) -> None:
    # A USD appraisal of an asset securing CNY loans: coverage needs a USD/CNY rate the home page cannot guess.
    r = await client.post(
        "/api/valuations",
        headers=as_role(Role.ASSET_MANAGER),
        json={
            "asset_ref": "A1",
            "valued_on": (clock.today() - timedelta(days=1)).isoformat(),
            "market_value": "90000.00",
            "currency": "USD",
            "method": "desktop",
            "appraiser": "Overseas Appraisal",
        },
    )
    assert r.status_code == 201, r.text
    approved = await client.post(f"/api/valuations/{r.json()['id']}/approve", headers=as_role(Role.ADMIN))
    assert approved.status_code == 200, approved.text
    home = await client.get("/home", headers=as_role(Role.CREDIT_OFFICER))
    assert home.status_code == 200
    card = home.text.split('data-signal="breach"', 1)[1].split("</li>", 1)[0]
    assert 'data-testid="signal-breach">—<' in card and "USD" in card


async def test_a_loan_a_revaluation_put_in_breach_is_newly_in_breach(client: httpx.AsyncClient, as_role: Any) -> None:
    b = await two_asset_lot(client, as_role)  # L1 and L2 in breach from the start
    today = clock.today()
    await b.asset("A3")
    await appraise(client, as_role, "A3", "5000000.00", valued_on=(today - timedelta(days=30)).isoformat())
    await b.lien("M3", asset="A3", loans=["L1"])
    await b.register("M3", datetime(2026, 1, 7, 2, tzinfo=UTC))
    credit = as_role(Role.CREDIT_OFFICER)
    assert "L1" not in await breached(client, credit)  # the third asset covers it
    # The revaluation of A3 puts L1 back in breach; L2 was in breach before it and is not news.
    await appraise(client, as_role, "A3", "100.00", valued_on=(today - timedelta(days=5)).isoformat())
    assert {"L1", "L2"} <= await breached(client, credit)
    home = (await client.get("/home", headers=credit)).text
    assert figures(home)["new_breach"] == 1
    card = home.split('data-signal="new_breach"', 1)[1].split("</li>\n</ul>", 1)[0].split("data-signal=", 1)[0]
    assert 'href="/loans/L1"' in card and 'href="/loans/L2"' not in card
    assert (today - timedelta(days=5)).isoformat() in card


async def breached(client: httpx.AsyncClient, headers: dict[str, str]) -> set[str]:
    rows = (await client.get("/api/coverage/loans?page_size=100", headers=headers)).json()["items"]
    return {r["loan_id"] for r in rows if r["breach"]}
