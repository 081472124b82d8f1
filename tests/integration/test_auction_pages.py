"""The auction pages over HTTP (DESIGN 6 and 10), on both engines: the public listing open to anyone and naming no
one, the auction room for bidders (staff read it without a form), the round page for staff with the officer's
forms, who may open and post what, the minimum next bid by the rule, the bid form without JavaScript (idempotent),
inline refusals with their status, and the result and a winner's default after the close."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auctions.access import CASE_READERS, DISPOSAL_WRITERS
from auctions.tables import Bid
from registry.roles import Role
from tests.integration.disposal_book import Clock, two_asset_lot, user_headers
from tests.integration.test_bidding import ENDS, OPENED, ROUND, STARTS

pytestmark = pytest.mark.integration

STAFF = sorted(CASE_READERS)
NOT_OFFICERS = sorted(CASE_READERS - DISPOSAL_WRITERS)
OFFICER = Role.DISPOSAL_OFFICER
FLAT = "Flat 12B, 88 sqm, south-facing"
FLAT_ADDRESS = "88 Century Avenue, Pudong, Shanghai"
# What the public may never read: the owner (and borrower) P1, the loans, the bidders' usernames.
SECRETS = ["Party P1", "P1", "L1", "L2", "alice", "bob", "carol"]


@pytest.fixture
async def room(client: httpx.AsyncClient, as_role: Any, app: Any) -> dict[str, Any]:
    """Case C1 (cn-judicial-online, lot A1 + A2 of P1, appraised 900,000.00) with round 1 bidding, alice and bob
    admitted with their deposits, carol a bidder not admitted; the clock an hour into the window."""
    clock = Clock(OPENED)
    await two_asset_lot(client, as_role)
    manager = as_role(Role.ASSET_MANAGER)
    for ref, body in (("A1", {"description": FLAT, "address": FLAT_ADDRESS}), ("A2", {"description": "Parking space"})):
        r = await client.patch(f"/api/assets/{ref}", headers=manager, json=body)
        assert r.status_code == 200, r.text
    officer = as_role(OFFICER)
    r = await client.post(
        "/api/disposals",
        headers=officer,
        json={"ref": "C1", "asset_refs": ["A1", "A2"], "profile": "cn-judicial-online"},
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    people = {name: await user_headers(app, name, Role.BIDDER) for name in ("alice", "bob", "carol")}
    for name in ("alice", "bob"):
        r = await client.post(
            f"/api/rounds/{round_id}/bidders", headers=officer, json={"username": name, "deposit_paid": "63000.00"}
        )
        assert r.status_code == 201, r.text
    clock.at = STARTS + timedelta(hours=1)
    return {"id": round_id, "clock": clock, "officer": officer, **people}


async def api_bid(client: httpx.AsyncClient, room: dict[str, Any], who: str, amount: str) -> httpx.Response:
    return await client.post(f"/api/rounds/{room['id']}/bids", headers=room[who], json={"amount": amount})


def redirected_to(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 303, response.text[:2000]
    target = urlsplit(response.headers["location"])
    return target.path, parse_qs(target.query)


def shown(html: str, name: str) -> str:
    """The text of the first element with this data-testid, tags stripped and whitespace squeezed."""
    found = re.search(rf'<(\w+)[^>]*data-testid="{re.escape(name)}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no element with data-testid={name!r}"
    return " ".join(re.sub(r"<[^>]+>", "", found.group(2)).split())


def field_error(html: str, control_id: str) -> str | None:
    found = re.search(rf'<span class="field-error" id="{re.escape(control_id)}-error"[^>]*>([^<]+)</span>', html)
    return found.group(1) if found else None


def names_in(html: str) -> list[str]:
    return [s for s in SECRETS if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", html)]


# --- the public listing ----------------------------------------------------------------------------------------


async def test_the_public_listing_is_open_to_anyone_and_names_no_one(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    assert (await api_bid(client, room, "alice", "630000.00")).status_code == 201
    r = await client.get("/public/auctions")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert FLAT in html and FLAT_ADDRESS in html and "Parking space" in html
    card = re.search(rf'<li class="auction-card" data-round-id="{room["id"]}".*?</li>\s*</ul>', html, re.S)
    assert card, html[:3000]
    for field, shown in [
        ("appraisal", "900,000.00 CNY"),
        ("starting_price", "630,000.00 CNY"),
        ("current_price", "630,000.00 CNY"),
        ("bid_count", "1"),
        ("deposit", "63,000.00 CNY"),
    ]:
        assert re.search(rf'data-field="{field}">(<strong>)?{re.escape(shown)}', html), field
    assert '<time datetime="2026-03-23T02:00:00.000Z" data-local-time>2026-03-23 02:00:00 UTC</time>' in html
    assert f'href="/auctions/{room["id"]}"' in html
    assert names_in(html) == []
    assert "bidder 1" not in html  # not even the aliases
    assert 'href="/assets"' not in html and 'href="/disposals' not in html
    assert "Sign in to bid" in html
    # A forged cookie is just a visitor on a public page, not an error.
    forged = await client.get("/public/auctions", headers={"Cookie": "access_token=not.a.token"})
    assert forged.status_code == 200
    assert 'data-testid="signed-in-as"' not in forged.text


async def test_the_listing_keeps_a_signed_in_visitor_s_navigation(client: httpx.AsyncClient, as_role: Any) -> None:
    for role in Role:
        r = await client.get("/public/auctions", headers=as_role(role))
        assert r.status_code == 200, role
        assert 'data-testid="signed-in-as"' in r.text, role
        assert '<a href="/public/auctions" aria-current="page">Auctions</a>' in r.text, role
    bidder = await client.get("/public/auctions", headers=as_role(Role.BIDDER))
    assert not re.search(r'href="/(assets|disposals|coverage|valuations|worklist|overlaps)', bidder.text)
    assert "No auction is open for bidding right now." in bidder.text


# --- the auction room ------------------------------------------------------------------------------------------


async def test_the_room_is_for_bidders_and_staff_read_it_without_a_form(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    url = f"/auctions/{room['id']}"
    anonymous = await client.get(url)
    assert redirected_to(anonymous) == ("/login", {"next": [url]})
    assert (await api_bid(client, room, "bob", "630000.00")).status_code == 201

    alice = await client.get(url, headers=room["alice"])
    assert alice.status_code == 200
    html = alice.text
    assert 'data-testid="bid-form"' in html and f'action="/auctions/{room["id"]}/bids"' in html
    assert shown(html, "my-alias") == "bidder 1"
    assert shown(html, "current-price") == "630,000.00"
    assert shown(html, "leader") == "bidder 2"
    assert shown(html, "minimum") == "635,000.00"
    assert shown(html, "countdown") == "23:00:00"  # to the end, on the server's clock
    assert shown(html, "deposit-status").startswith("Held")
    assert FLAT in html and "900,000.00 CNY" in html
    assert names_in(html) == ["alice"]  # the bidder's own name in the header; nobody else's
    assert not re.search(r'href="/(assets|disposals|coverage)', html)
    state = re.search(r'<script type="application/json" id="auction-state">(.*?)</script>', html, re.S)
    assert state and '"server_time": "2026-03-22T03:00:00.000Z"' in state.group(1)
    assert '"usernames": {}' in state.group(1)

    carol = await client.get(url, headers=room["carol"])
    assert carol.status_code == 200
    assert 'data-testid="not-admitted"' in carol.text and 'data-testid="bid-form"' not in carol.text

    for role in STAFF:
        r = await client.get(url, headers=as_role(role))
        assert r.status_code == 200, role
        assert 'data-testid="bid-form"' not in r.text and 'data-testid="read-only"' in r.text, role
        assert f'href="/auctions/{room["id"]}/manage"' in r.text and 'href="/disposals/C1"' in r.text
    assert (await client.get("/auctions/9999", headers=room["alice"])).status_code == 404


async def test_the_minimum_next_bid_follows_the_bidding_rule(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    url = f"/auctions/{room['id']}"
    assert shown((await client.get(url, headers=room["alice"])).text, "minimum") == "630,000.00"  # the start
    assert (await api_bid(client, room, "alice", "630000.00")).status_code == 201
    alice = (await client.get(url, headers=room["alice"])).text
    assert 'data-testid="lead-note" hidden' not in alice  # "You lead"
    assert shown((await client.get(url, headers=room["bob"])).text, "minimum") == "635,000.00"  # + increment
    r = await client.post(
        f"/api/rounds/{room['id']}/bidders",
        headers=room["officer"],
        json={"username": "carol", "deposit_paid": "63000.00", "preemption_rank": 1},
    )
    assert r.status_code == 201, r.text
    carol = (await client.get(url, headers=room["carol"])).text
    assert shown(carol, "minimum") == "630,000.00"  # a pre-emption right may match the current price
    assert '"not_outranked": ["bidder 3"]' in carol


async def test_the_bid_form_without_javascript_places_one_bid_per_form(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    url = f"/auctions/{room['id']}/bids"
    form = {"amount": "630,000.00", "idempotency_key": "form-1"}
    first = await client.post(url, headers=room["bob"], data=form)
    path, query = redirected_to(first)
    assert path == f"/auctions/{room['id']}"
    again = await client.post(url, headers=room["bob"], data=form)  # the same form sent twice: one bid
    assert redirected_to(again) == (path, query)
    assert await Bid.count() == 1
    page = await client.get(first.headers["location"], headers=room["bob"])
    assert shown(page.text, "bid-ok") == "Your bid of 630,000.00 CNY was accepted."
    assert shown(page.text, "current-price") == "630,000.00"

    low = await client.post(url, headers=room["alice"], data={"amount": "631,000", "idempotency_key": "form-2"})
    assert low.status_code == 422
    reason = "bid 631,000.00 is below the current price 630,000.00 plus the increment 5,000.00: at least 635,000.00"
    assert reason in shown(low.text, "bid-error")
    assert 'value="631,000"' in low.text and 'aria-invalid="true"' in low.text
    assert reason in shown(low.text, "own-bids")  # kept in the history with its reason
    assert shown(low.text, "countdown") == "23:00:00"  # a refused bid never moves the end
    lead = await client.post(url, headers=room["bob"], data={"amount": "700000", "idempotency_key": "form-3"})
    assert lead.status_code == 409
    assert "a leader cannot raise against itself" in shown(lead.text, "bid-error")
    garbage = await client.post(url, headers=room["alice"], data={"amount": "lots", "idempotency_key": "form-4"})
    assert garbage.status_code == 422
    assert "is not a decimal amount" in shown(garbage.text, "bid-error")
    for role in STAFF:
        assert (await client.post(url, headers=as_role(role), data=form)).status_code == 403
    assert (await client.post(url, headers=room["carol"], data={"amount": "640000"})).status_code == 409
    assert await Bid.count() == 3  # two refused bids kept, the outsider's and the malformed one not


# --- the round page --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "form"),
    [
        ("GET", "/auctions/{id}/manage", None),
        ("POST", "/auctions/{id}/bidders", {"username": "carol", "deposit_paid": "63000.00"}),
        ("POST", "/auctions/{id}/default", {}),
    ],
)
async def test_the_round_page_is_staff_only_and_its_forms_officers_only(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any], method: str, path: str, form: Any
) -> None:
    url = path.format(id=room["id"])
    anonymous = await client.request(method, url, data=form)
    assert anonymous.status_code == 303 and urlsplit(anonymous.headers["location"]).path == "/login"
    denied = await client.request(method, url, headers=room["alice"], data=form)
    assert denied.status_code == 403 and "Not allowed" in denied.text
    for role in NOT_OFFICERS:
        r = await client.request(method, url, headers=as_role(role), data=form)
        assert r.status_code == (200 if method == "GET" else 403), (role, url)
    listed = await client.get(f"/api/rounds/{room['id']}/bidders", headers=room["officer"])
    assert [b["username"] for b in listed.json()] == ["alice", "bob"]


async def test_the_round_page_lists_the_bidders_and_every_bid(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    assert (await api_bid(client, room, "alice", "630000.00")).status_code == 201
    assert (await api_bid(client, room, "bob", "1.00")).status_code == 422
    url = f"/auctions/{room['id']}/manage"
    officer = await client.get(url, headers=room["officer"])
    assert officer.status_code == 200
    html = officer.text
    rows = re.findall(r'<tr data-username="([^"]+)" data-alias="([^"]+)">', html)
    assert rows == [("alice", "bidder 1"), ("bob", "bidder 2")]
    assert 'data-testid="admit-form"' in html
    every = shown(html, "all-bids")
    assert "bid 1.00 is below the current price 630,000.00" in every and "Refused" in every and "Accepted" in every
    assert 'href="/disposals/C1"' in html and f'href="/auctions/{room["id"]}"' in html
    for role in NOT_OFFICERS:
        r = await client.get(url, headers=as_role(role))
        assert 'data-testid="admit-form"' not in r.text and 'method="post"' not in r.text.split("<main>")[1], role
        assert re.findall(r'<tr data-username="([^"]+)"', r.text) == ["alice", "bob"]


async def test_admitting_a_bidder_refuses_inline_and_admits_with_separators(
    client: httpx.AsyncClient, room: dict[str, Any]
) -> None:
    url = f"/auctions/{room['id']}/bidders"
    officer = room["officer"]
    low = await client.post(url, headers=officer, data={"username": "carol", "deposit_paid": "1.00"})
    assert low.status_code == 422
    assert field_error(low.text, "admit-deposit_paid") == "deposit 1.00 is below the round&#39;s deposit 63,000.00"
    assert 'id="admit-username" name="username" value="carol"' in low.text
    assert shown(low.text, "admit-errors") == "The bidder was not admitted. Fix what is marked below."
    nobody = await client.post(url, headers=officer, data={"username": "nobody", "deposit_paid": "63000.00"})
    assert nobody.status_code == 422
    assert field_error(nobody.text, "admit-username") == "no active user &#39;nobody&#39;"
    rank = await client.post(
        url, headers=officer, data={"username": "carol", "deposit_paid": "63000", "preemption_rank": "0"}
    )
    assert rank.status_code == 422
    assert "a whole number from 1" in (field_error(rank.text, "admit-preemption_rank") or "")
    twice = await client.post(url, headers=officer, data={"username": "alice", "deposit_paid": "63000.00"})
    assert twice.status_code == 409
    assert "alice is already registered for this round" in shown(twice.text, "admit-errors")
    ok = await client.post(
        url, headers=officer, data={"username": "carol", "deposit_paid": "63,000.00", "preemption_rank": "1"}
    )
    assert redirected_to(ok) == (f"/auctions/{room['id']}/manage", {"done": ["admitted"]})
    page = await client.get(ok.headers["location"], headers=officer)
    assert shown(page.text, "round-done").startswith("Bidder admitted")
    row = re.search(r'<tr data-username="carol" data-alias="bidder 3">(.*?)</tr>', page.text, re.S)
    assert row and "63,000.00" in row.group(1) and "<td>1</td>" in row.group(1)


async def test_after_the_close_the_result_shows_and_the_officer_records_a_default(
    client: httpx.AsyncClient, as_role: Any, room: dict[str, Any]
) -> None:
    assert (await api_bid(client, room, "bob", "630000.00")).status_code == 201
    assert (await api_bid(client, room, "alice", "650000.00")).status_code == 201
    room["clock"].at = ENDS + timedelta(seconds=2)
    alice = await client.get(f"/auctions/{room['id']}", headers=room["alice"])
    assert 'data-testid="bid-form"' not in alice.text
    assert shown(alice.text, "result") == (
        "Result Sold to bidder 1 at 650,000.00 CNY. You won: pay the balance by 2026-04-02; "
        "your deposit counts toward the price."
    )
    assert 'data-live="price_label">Sold at<' in alice.text and 'data-live="leader_label">Won by<' in alice.text
    bob = await client.get(f"/auctions/{room['id']}", headers=room["bob"])
    assert "Your deposit is to be refunded." in shown(bob.text, "result")
    assert shown(bob.text, "deposit-status").startswith("To be refunded")

    url = f"/auctions/{room['id']}/manage"
    page = await client.get(url, headers=room["officer"])
    winner = shown(page.text, "winner")
    assert "alice (bidder 1)" in winner and "650,000.00 CNY" in winner and "2026-04-02" in winner
    assert 'data-testid="default-form"' in page.text and "data-confirm=" in page.text
    assert 'data-testid="admit-form"' not in page.text  # no one joins a closed round
    auditor = await client.get(url, headers=as_role(Role.AUDITOR))
    assert "alice (bidder 1)" in shown(auditor.text, "winner") and 'data-testid="default-form"' not in auditor.text

    r = await client.post(f"/auctions/{room['id']}/default", headers=room["officer"])
    assert redirected_to(r) == (url, {"done": ["defaulted"]})
    page = await client.get(r.headers["location"], headers=room["officer"])
    assert 'data-status="defaulted"' in page.text and 'data-testid="default-form"' not in page.text
    again = await client.post(f"/auctions/{room['id']}/default", headers=room["officer"])
    assert again.status_code == 409
    assert shown(again.text, "round-alert")
