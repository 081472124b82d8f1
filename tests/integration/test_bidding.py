"""Live bidding through the API (DESIGN 6): bidders admitted with their deposit, one locked transaction per bid,
refused bids kept, idempotent retries, soft close, the close after the end, a winner's default; on both engines,
and 50 bidders at once."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auctions.tables import Bid
from registry import audit
from registry.roles import Role
from tests.integration.disposal_book import Clock, second_officer_headers, two_asset_lot, user_headers

pytestmark = pytest.mark.integration

OPENED = datetime(2026, 3, 1, 10, tzinfo=UTC)
STARTS = datetime(2026, 3, 22, 2, tzinfo=UTC)
ENDS = STARTS + timedelta(days=1)
ROUND = {
    "starting_price": "630000.00",
    "increment": "5000.00",
    "deposit": "63000.00",
    "notice_published_on": "2026-02-20",
    "starts_at": "2026-03-22T02:00:00Z",
    "ends_at": "2026-03-23T02:00:00Z",
}


@pytest.fixture
async def auction(client, as_role, app) -> dict[str, Any]:
    """Case C1 (cn-judicial-online) with round 1 scheduled and two bidders admitted; the clock in the window."""
    clock = Clock(OPENED)
    await two_asset_lot(client, as_role)
    officer = as_role(Role.DISPOSAL_OFFICER)
    r = await client.post(
        "/api/disposals",
        headers=officer,
        json={"ref": "C1", "asset_refs": ["A1", "A2"], "profile": "cn-judicial-online"},
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/disposals/C1/rounds", headers=officer, json=ROUND)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    alice = await user_headers(app, "alice", Role.BIDDER)
    bob = await user_headers(app, "bob", Role.BIDDER)
    for name in ("alice", "bob"):
        r = await client.post(
            f"/api/rounds/{round_id}/bidders", headers=officer, json={"username": name, "deposit_paid": "63000.00"}
        )
        assert r.status_code == 201, r.text
    clock.at = STARTS + timedelta(hours=1)
    return {"round": round_id, "clock": clock, "alice": alice, "bob": bob, "officer": officer}


async def bid(client, auction, who: str, amount: str, key: str | None = None):
    headers = dict(auction[who])
    if key:
        headers["Idempotency-Key"] = key
    return await client.post(f"/api/rounds/{auction['round']}/bids", headers=headers, json={"amount": amount})


async def test_admitting_bidders_checks_role_deposit_and_duplicates(client, as_role, app, auction) -> None:
    officer, url = auction["officer"], f"/api/rounds/{auction['round']}/bidders"
    await user_headers(app, "carol", Role.BIDDER)
    r = await client.post(url, headers=officer, json={"username": "credit_officer1", "deposit_paid": "63000.00"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "username", "reason": "credit_officer1 is not a bidder"}]
    r = await client.post(url, headers=officer, json={"username": "carol", "deposit_paid": "62999.99"})
    assert r.json()["errors"] == [
        {"field": "deposit_paid", "reason": "deposit 62,999.99 is below the round's deposit 63,000.00"}
    ]
    assert (
        await client.post(url, headers=officer, json={"username": "alice", "deposit_paid": "63000.00"})
    ).status_code == 409
    r = await client.post(
        url, headers=officer, json={"username": "carol", "deposit_paid": "63000.00", "preemption_rank": 1}
    )
    assert (r.status_code, r.json()["alias"], r.json()["preemption_rank"]) == (201, "bidder 3", 1)
    assert (
        await client.post(url, headers=auction["alice"], json={"username": "x", "deposit_paid": "1.00"})
    ).status_code == 403


async def test_bids_are_decided_kept_and_seen_by_alias(client, as_role, auction) -> None:
    r = await bid(client, auction, "alice", "629999.99")
    assert r.status_code == 422
    assert (r.json()["current_price"], r.json()["minimum_bid"]) == (None, "630000.00")
    assert r.json()["detail"] == "bid 629,999.99 is below the starting price 630,000.00 (网拍规定 art. 20)"
    r = await bid(client, auction, "alice", "630000.00")
    assert r.status_code == 201, r.text
    answer = r.json()
    assert {k: answer[k] for k in ("accepted", "current_price", "leader", "ends_at")} == {
        "accepted": True,
        "current_price": "630000.00",
        "leader": "bidder 1",
        "ends_at": "2026-03-23T02:00:00Z",
    }
    assert (await bid(client, auction, "alice", "640000.00")).status_code == 409  # a leader does not raise itself
    r = await bid(client, auction, "bob", "634999.99")
    assert r.status_code == 422
    assert "at least 635,000.00" in r.json()["detail"]
    # The refusal carries what the bidder needs to bid again without reading the round first.
    assert (r.json()["current_price"], r.json()["minimum_bid"]) == ("630000.00", "635000.00")
    assert (await bid(client, auction, "bob", "635000.00")).status_code == 201
    state = (await client.get(f"/api/rounds/{auction['round']}", headers=auction["alice"])).json()
    assert (state["status"], state["current_price"], state["leader"], state["bid_count"]) == (
        "bidding",
        "635000.00",
        "bidder 2",
        2,
    )
    mine = (await client.get(f"/api/rounds/{auction['round']}/bids", headers=auction["bob"])).json()
    assert [(b["amount"], b["accepted"]) for b in mine] == [("634999.99", False), ("635000.00", True)]
    every = (await client.get(f"/api/rounds/{auction['round']}/bids", headers=as_role(Role.AUDITOR))).json()
    assert len(every) == 5  # refused bids are kept with their reason
    assert all(b["alias"].startswith("bidder ") for b in every)
    assert "alice" not in str(state) and "bob" not in str(state)


async def test_a_retry_with_the_same_key_gets_the_first_answer(client, auction) -> None:
    first = await bid(client, auction, "alice", "630000.00", key="k-1")
    again = await bid(client, auction, "alice", "630000.00", key="k-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    refused = await bid(client, auction, "bob", "1.00", key="k-1")  # keys are per bidder
    assert refused.status_code == 422
    assert (await bid(client, auction, "bob", "1.00", key="k-1")).json() == refused.json()
    assert await Bid.count() == 2


async def test_soft_close_moves_the_end_only_for_an_accepted_bid(client, auction) -> None:
    clock = auction["clock"]
    clock.at = ENDS - timedelta(seconds=1)
    r = await bid(client, auction, "alice", "1.00")
    assert r.status_code == 422
    assert r.json()["ends_at"] == "2026-03-23T02:00:00Z"  # a refused bid never extends
    r = await bid(client, auction, "alice", "630000.00")
    assert r.status_code == 201
    assert r.json()["ends_at"] == "2026-03-23T02:04:59Z"  # receipt + 5 minutes
    clock.at = ENDS + timedelta(minutes=1)  # past the original end, inside the extension
    assert (await bid(client, auction, "bob", "635000.00")).status_code == 201
    clock.at = ENDS + timedelta(minutes=6, seconds=2)
    r = await bid(client, auction, "alice", "700000.00")
    assert r.status_code == 409
    assert r.json()["code"] == "closed"


async def test_the_close_after_the_end_sells_once_to_the_leader(client, as_role, app, auction) -> None:
    assert (await bid(client, auction, "alice", "630000.00")).status_code == 201
    assert (await bid(client, auction, "bob", "700000.00")).status_code == 201
    auction["clock"].at = ENDS + timedelta(seconds=2)
    reads = await asyncio.gather(
        *(client.get(f"/api/rounds/{auction['round']}", headers=auction["alice"]) for _ in range(5))
    )
    assert {r.json()["status"] for r in reads} == {"sold"}
    state = reads[0].json()
    assert (state["current_price"], state["leader"], state["balance_due_on"]) == ("700000.00", "bidder 2", "2026-04-02")
    case = (await client.get("/api/disposals/C1", headers=as_role(Role.AUDITOR))).json()
    assert (case["state"], case["sale_kind"], case["sale_price"], case["buyer"]) == (
        "sold",
        "auction",
        "700000.00",
        "bob",
    )
    listed = (await client.get(f"/api/rounds/{auction['round']}/bidders", headers=auction["officer"])).json()
    assert {b["username"]: b["deposit_status"] for b in listed} == {"alice": "refundable", "bob": "held"}
    events = (await client.get("/api/audit?entity=disposal&page_size=100", headers=as_role(Role.AUDITOR))).json()
    assert sum(e["action"] == "round_sold" for e in events["items"]) == 1


async def test_a_defaulting_winner_forfeits_the_deposit_and_is_barred(client, as_role, app, auction) -> None:
    assert (await bid(client, auction, "alice", "630000.00")).status_code == 201
    auction["clock"].at = ENDS + timedelta(seconds=2)
    r = await client.post(f"/api/rounds/{auction['round']}/default", headers=auction["officer"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "defaulted"
    case = (await client.get("/api/disposals/C1", headers=as_role(Role.AUDITOR))).json()
    assert (case["state"], case["forfeited_deposits"], case["sale_price"]) == ("open", "63000.00", None)
    assert case["allowed_moves"] == ["schedule_round", "take_in_lieu"]
    second_round = {
        **ROUND,
        "starting_price": "504000.00",
        "deposit": "50400.00",
        "notice_published_on": "2026-03-23",
        "starts_at": "2026-04-07T02:00:00Z",
        "ends_at": "2026-04-08T02:00:00Z",
    }
    r = await client.post("/api/disposals/C1/rounds", headers=auction["officer"], json=second_round)
    assert r.status_code == 201, r.text
    url = f"/api/rounds/{r.json()['round_id']}/bidders"
    r = await client.post(url, headers=auction["officer"], json={"username": "alice", "deposit_paid": "50400.00"})
    assert r.status_code == 409
    assert "defaulted as the winner of round 1" in r.json()["detail"]
    # The forfeited deposit is proceeds of the case: taken in lieu at 630,000.00, the gross is 693,000.00.
    r = await client.post("/api/disposals/C1/moves", headers=auction["officer"], json={"to": "withdraw"})
    assert r.status_code == 409


async def test_an_auction_sale_settles_with_the_hammer_price(client, as_role, app, auction) -> None:
    assert (await bid(client, auction, "bob", "650000.00")).status_code == 201
    auction["clock"].at = ENDS + timedelta(seconds=2)
    await client.get(f"/api/rounds/{auction['round']}", headers=auction["bob"])
    r = await client.post("/api/disposals/C1/settlement", headers=auction["officer"], json={})
    assert r.status_code == 201, r.text
    assert r.json()["waterfall"]["gross_proceeds"] == "650000.00"
    r = await client.post("/api/disposals/C1/settlement/confirm", headers=await second_officer_headers(app))
    assert r.status_code == 200, r.text


async def test_fifty_bidders_at_once_lose_no_bid_and_accept_none_twice(client, as_role, app, auction) -> None:
    officer, round_id = auction["officer"], auction["round"]
    bidders = {}
    for i in range(50):
        name = f"crowd{i:02d}"
        bidders[name] = await user_headers(app, name, Role.BIDDER)
        r = await client.post(
            f"/api/rounds/{round_id}/bidders", headers=officer, json={"username": name, "deposit_paid": "63000.00"}
        )
        assert r.status_code == 201, r.text
    rng = random.Random(7)

    async def one(name: str, n: int) -> list[tuple[str, int, dict[str, Any]]]:
        out = []
        for k in range(3):
            amount = f"{630000 + 5000 * rng.randint(0, 60)}.00"
            key = f"{name}-{k}"
            headers = {**bidders[name], "Idempotency-Key": key}
            r = await client.post(f"/api/rounds/{round_id}/bids", headers=headers, json={"amount": amount})
            assert r.status_code in (201, 409, 422), r.text
            retry = await client.post(f"/api/rounds/{round_id}/bids", headers=headers, json={"amount": amount})
            assert (retry.status_code, retry.json()) == (r.status_code, r.json())
            out.append((key, r.status_code, r.json()))
        return out

    answers = [a for batch in await asyncio.gather(*(one(n, i) for i, n in enumerate(bidders))) for a in batch]
    accepted_ids = sorted(body["bid_id"] for _, status, body in answers if status == 201)
    stored = await Bid.select().where(Bid.round == round_id).order_by(Bid.id)
    assert len(stored) == 150  # every bid kept once, retries included in none
    assert sorted(b["id"] for b in stored if b["accepted"]) == accepted_ids  # no accepted bid lost
    prices = [b["amount"] for b in stored if b["accepted"]]
    assert prices == sorted(prices) and len(set(prices)) == len(prices)  # strictly rising in commit order
    state = (await client.get(f"/api/rounds/{round_id}", headers=as_role(Role.AUDITOR))).json()
    assert state["current_price"] == f"{max(prices) // 100}.00"
    assert state["bid_count"] == len(accepted_ids)
    assert (await audit.verify()).ok


async def test_the_public_listing_shows_the_lot_and_round_but_no_one(client, auction) -> None:
    assert (await bid(client, auction, "alice", "630000.00")).status_code == 201
    r = await client.get("/api/public/auctions")  # no token
    assert r.status_code == 200, r.text
    [listed] = r.json()
    assert (listed["round_id"], listed["status"], listed["current_price"], listed["bid_count"]) == (
        auction["round"],
        "bidding",
        "630000.00",
        1,
    )
    assert [a["kind"] for a in listed["lot"]] == ["real_estate", "real_estate"]
    text = r.text
    for private in ("P1", "Party P1", "L1", "L2", "alice", "bidder 1", "M1", "Bank of Example"):
        assert private not in text


async def test_the_same_key_twice_at_once_is_one_bid_with_one_answer(client, auction) -> None:
    assert (await bid(client, auction, "alice", "640000.00")).status_code == 201
    first, second = await asyncio.gather(*(bid(client, auction, "bob", "630000.00", key="twice") for _ in range(2)))
    assert first.status_code == second.status_code == 422
    assert first.json() == second.json()
    assert await Bid.count().where(Bid.idempotency_key == "twice") == 1
