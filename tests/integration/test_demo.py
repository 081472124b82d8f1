"""The demo book behind `collateral serve --demo`: loaded once through the services, it holds what the
demo promises, its users can log in, its audit chain verifies, and loading it again changes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from registry.demo.book import plan_book
from registry.demo.loader import demo_password, load_demo
from registry.roles import Role
from registry.tables import TABLES, AppUser, Asset, Document, Lien, Loan, Party, Posting
from tests.integration.conftest import empty_tables

pytestmark = pytest.mark.integration

ASSET_KINDS = {
    "real_estate",
    "land_use_right",
    "vehicle",
    "equipment",
    "inventory",
    "receivable",
    "deposit",
    "equity",
    "ip_right",
}
DEMO_USERS = [role.value for role in Role]
COMPONENTS = ("principal", "interest", "penalty", "fees")


async def row_counts() -> dict[str, int]:
    return {table._meta.tablename: await table.count() for table in TABLES}


@pytest.fixture(scope="module")
async def demo(app: Any, users: Any) -> AsyncIterator[str]:
    # Loaded once for the module (it is the slow part); the tables and the demo users are removed
    # afterwards so later modules start from the same empty book as always.
    await empty_tables()
    summary = await load_demo()
    yield summary
    await empty_tables()
    await AppUser.delete().where(AppUser.username.is_in(DEMO_USERS))


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    # Not the shared `client` fixture: it empties the tables after every test, and the demo is loaded once.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def login(api: httpx.AsyncClient, role: Role) -> dict[str, str]:
    r = await api.post("/api/auth/login", json={"username": role.value, "password": demo_password(role)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_summary_gives_counts_and_credentials(demo: str) -> None:
    book = plan_book()
    assert demo.startswith("Demo book loaded")
    assert f"{len(book.parties)} parties" in demo
    assert f"{len(book.liens)} liens" in demo
    for role in Role:
        assert f"{role.value} / demo-{role.value}" in demo
    assert await Party.count() == len(book.parties)
    assert await Loan.count() == len(book.loans)
    assert await Asset.count() == len(book.assets)
    assert await Lien.count() == len(book.liens)
    assert await Document.count() == len(book.documents) > 0


async def test_book_is_the_same_for_the_same_seed() -> None:
    assert plan_book(7) == plan_book(7)
    assert plan_book(7) != plan_book(8)


async def test_every_asset_kind_loan_status_and_classification_is_present(demo: str) -> None:
    assert {r["kind"] for r in await Asset.select(Asset.kind).distinct()} == ASSET_KINDS
    assert {r["status"] for r in await Loan.select(Loan.status).distinct()} == {
        "performing",
        "overdue",
        "non_performing",
        "restructured",
        "settled",
        "written_off",
    }
    assert {r["classification"] for r in await Loan.select(Loan.classification).distinct()} == {
        "pass",
        "special_mention",
        "substandard",
        "doubtful",
        "loss",
    }
    assert {r["currency"] for r in await Loan.select(Loan.currency).distinct()} == {"CNY", "USD", "HKD"}
    assert {"seized", "in_disposal"} <= {r["status"] for r in await Asset.select(Asset.status).distinct()}
    assert {"bankrupt", "blacklisted"} <= {r["status"] for r in await Party.select(Party.status).distinct()}


async def test_two_parcels_overlap_so_the_double_pledge_shows(demo: str, api: httpx.AsyncClient) -> None:
    r = await api.get("/api/registry/overlaps", headers=await login(api, Role.ASSET_MANAGER))
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1


async def test_parcels_only_on_land_and_buildings(demo: str) -> None:
    rows = await Asset.select(Asset.kind, Asset.geometry).where(Asset.geometry.is_not_null())
    assert len(rows) > 100
    assert {r["kind"] for r in rows} == {"real_estate", "land_use_right"}


async def test_liens_cover_the_registration_states_and_both_holders(demo: str) -> None:
    states = {r["status"] for r in await Lien.select(Lien.status).distinct()}
    assert len(states) >= 5
    assert states == {"draft", "submitted", "registered", "released", "rejected", "expired"}
    assert await Lien.exists().where(Lien.holder == "own")
    others = await Lien.select(Lien.holder, Lien.external_claim).where(Lien.holder != "own")
    assert others
    assert all(r["external_claim"] for r in others)
    assert await Lien.exists().where(Lien.cap.is_not_null())
    perfected = [r["perfected_at"] for r in await Lien.select(Lien.perfected_at).where(Lien.perfected_at.is_not_null())]
    assert max(perfected) <= datetime.now(UTC)


async def test_some_asset_has_liens_sharing_a_rank(demo: str, api: httpx.AsyncClient) -> None:
    registered = await Lien.select(Lien.asset.ref.as_alias("asset_ref"), Lien.perfected_at).where(
        Lien.status == "registered"
    )
    times: dict[tuple[str, datetime], int] = defaultdict(int)
    for r in registered:
        times[(r["asset_ref"], r["perfected_at"])] += 1
    tied_assets = sorted({asset for (asset, _), n in times.items() if n > 1})
    assert tied_assets
    detail = (await api.get(f"/api/assets/{tied_assets[0]}", headers=await login(api, Role.ASSET_MANAGER))).json()
    ranks = [line["rank"] for line in detail["liens"] if line["status"] == "registered"]
    assert len(ranks) > len(set(ranks)), detail["liens"]


async def test_each_demo_user_logs_in_with_the_documented_password(demo: str, api: httpx.AsyncClient) -> None:
    for role in Role:
        me = await api.get("/api/auth/me", headers=await login(api, role))
        assert me.json()["username"] == role.value
        assert me.json()["role"] == role.value


async def test_audit_chain_verifies(demo: str, api: httpx.AsyncClient) -> None:
    r = await api.get("/api/audit/verify", headers=await login(api, Role.AUDITOR))
    assert r.status_code == 200
    report = r.json()
    assert report["ok"] is True
    assert report["first_broken_seq"] is None
    assert report["events"] > 3000


async def test_a_reversed_posting_nets_out_of_the_balance(demo: str, api: httpx.AsyncClient) -> None:
    reversal = (
        await Posting.select(Posting.reverses, Posting.loan.ref.as_alias("loan_ref"))
        .where(Posting.reverses.is_not_null())
        .first()
    )
    assert reversal is not None
    headers = await login(api, Role.CREDIT_OFFICER)
    loan = (await api.get(f"/api/loans/{reversal['loan_ref']}", headers=headers)).json()
    postings = (await api.get(f"/api/loans/{reversal['loan_ref']}/postings?page_size=200", headers=headers)).json()
    assert postings["total"] == len(postings["items"])
    by_id = {p["id"]: p for p in postings["items"]}
    original, undo = by_id[reversal["reverses"]], next(p for p in postings["items"] if p["kind"] == "reversal")
    assert any(Decimal(original[c]) for c in COMPONENTS)
    assert all(Decimal(original[c]) + Decimal(undo[c]) == 0 for c in COMPONENTS)
    for c in COMPONENTS:
        assert Decimal(loan["balance"][c]) == sum(Decimal(p[c]) for p in postings["items"])
    assert Decimal(loan["balance"]["total"]) == sum(Decimal(loan["balance"][c]) for c in COMPONENTS)


async def test_settled_loans_owe_nothing(demo: str) -> None:
    totals: dict[str, int] = defaultdict(int)
    rows = await Posting.select(Posting.loan.ref.as_alias("ref"), *(getattr(Posting, c) for c in COMPONENTS)).where(
        Posting.loan.status == "settled"
    )
    for r in rows:
        totals[r["ref"]] += sum(r[c] for c in COMPONENTS)
    assert totals
    assert set(totals.values()) == {0}


async def test_loading_again_changes_nothing(demo: str) -> None:
    before = await row_counts()
    summary = await load_demo()
    assert summary.startswith("Demo book already loaded")
    assert await row_counts() == before


async def test_valuation_demo_makes_the_book_coverable(demo: str, api: httpx.AsyncClient) -> None:
    # Last in the module: it adds valuations to the shared demo book.
    from valuation.demo import load_valuation_demo
    from valuation.tables import Policy, Valuation

    summary = await load_valuation_demo()
    assert "9 policies" in summary
    assert await Policy.count() == 9
    approved = await Valuation.count().where(Valuation.status == "approved")
    assert approved > 250
    assert await Valuation.count().where(Valuation.decided_by == Valuation.submitted_by) == 0  # four eyes
    # Between two asset managers, as a bank's four eyes are; some revaluations wait for the second one.
    deciders = {
        r["decided_by"] for r in await Valuation.select(Valuation.decided_by).where(Valuation.status == "approved")
    }
    assert deciders == {"asset_manager_2"}
    assert await Valuation.count().where(Valuation.status == "submitted") == 6
    manager_2 = await api.post(
        "/api/auth/login", json={"username": "asset_manager_2", "password": "demo-asset_manager_2"}
    )
    assert manager_2.status_code == 200
    reports = (await api.get("/api/documents?entity=asset", headers=await login(api, Role.AUDITOR))).json()
    assert sum(d["filename"].startswith("appraisal-report-") for d in reports["items"]) >= 10
    r = await api.get("/api/coverage/summary?as_of=2026-11-01", headers=await login(api, Role.CREDIT_OFFICER))
    assert r.status_code == 200, r.text
    cny = next(p for p in r.json()["portfolio"] if p["currency"] == "CNY")
    assert cny["loans"] > 100 and cny["collateral_value"] != "0.00"
    assert "not loaded" in await load_valuation_demo()


async def test_disposal_demo_has_a_case_in_every_state(demo: str, api: httpx.AsyncClient) -> None:
    # After the valuation demo (it needs approved appraisals and policies); last in the module.
    from auctions.demo import load_disposal_demo

    summary = await load_disposal_demo()
    assert "DC-2026-001 to DC-2026-007 loaded" in summary, summary
    headers = await login(api, Role.AUDITOR)
    r = await api.get("/api/disposals?page_size=20", headers=headers)
    states = {c["ref"]: c["state"] for c in r.json()["items"]}
    assert states == {
        "DC-2026-001": "open",
        "DC-2026-002": "open",
        "DC-2026-003": "private_sale",
        "DC-2026-004": "sold",
        "DC-2026-005": "settled",
        "DC-2026-006": "in_lieu",
        "DC-2026-007": "auction",
    }
    failed = (await api.get("/api/disposals/DC-2026-002", headers=headers)).json()
    assert [x["status"] for x in failed["rounds"]] == ["failed"]
    assert failed["next_deadline"]["what"] == "round 2 must start"
    settled = (await api.get("/api/disposals/DC-2026-005/settlement", headers=headers)).json()
    assert (settled["proposed_by"], settled["confirmed_by"]) == ("disposal_officer", "disposal_officer_2")
    assert settled["waterfall"]["deficiency"]  # sold below the debt
    proposed = (await api.get("/api/disposals/DC-2026-004/settlement", headers=headers)).json()
    assert proposed["status"] == "proposed"
    live = (await api.get("/api/disposals/DC-2026-007", headers=headers)).json()
    [live_round] = live["rounds"]
    assert (live_round["status"], live_round["bid_count"], live_round["leader"]) == ("bidding", 2, "bidder 3")
    r = await api.get("/api/audit/verify", headers=headers)
    assert r.json()["ok"] is True
    assert "not loaded" in await load_disposal_demo()
    # The risk warning shows the disposal officer the cases with a step due and the loans left short, with links.
    home = (await api.get("/home", headers=await login(api, Role.DISPOSAL_OFFICER))).text
    own = home.split('data-testid="own-signals"', 1)[1].split("</ul>\n</li>", 2)
    assert 'href="/disposals/DC-2026-002"' in own[0] and "round 2 must start" in own[0]
    assert 'href="/disposals/DC-2026-003"' in own[0]  # the private-sale window closes
    deficient = {x["loan_id"] for x in settled["waterfall"]["deficiency"]}
    assert any(f'href="/loans/{ref}"' in home for ref in deficient)
