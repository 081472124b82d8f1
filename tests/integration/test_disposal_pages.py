"""The disposal pages over HTTP (DESIGN 6 and 7), on both engines: who may open each page and who may act,
the forms' refusals beside their fields with the refusal's status, the redirects after a change, and the
preview page computing the very lines the API computes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from auctions.access import CASE_READERS, DISPOSAL_WRITERS
from registry.roles import Role
from tests.integration.disposal_book import Clock, second_officer_headers, two_asset_lot
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
STAFF = sorted(CASE_READERS)
NOT_OFFICERS = sorted(CASE_READERS - DISPOSAL_WRITERS)
OFFICER = Role.DISPOSAL_OFFICER
READ_PAGES = [
    "/disposals",
    "/disposals/metrics",
    "/disposals/C1",
    "/disposals/C1/waterfall",
    "/disposals/C1/settlement",
    "/disposals/C1/statement",
]
ACTIONS = [
    ("/disposals/new", {"ref": "C9", "asset_refs": "A1", "profile": "us-ucc"}),
    ("/disposals/C1/rounds", {"starting_price": "630000.00"}),
    ("/disposals/C1/offers", {"buyer": "B", "price": "810000.01"}),
    ("/disposals/C1/offers/1/accept", {}),
    ("/disposals/C1/moves", {"to": "withdraw"}),
    ("/disposals/C1/settlement", {"expenses[0].kind": "tax", "expenses[0].amount": "1.00"}),
    ("/disposals/C1/settlement/confirm", {}),
]
ROUND_FORM = {
    "starting_price": "630,000.00",
    "increment": "5,000.00",
    "deposit": "63,000.00",
    "notice_published_on": "2026-02-20",
    "starts_at": "2026-03-22T02:00",
    "ends_at": "2026-03-23T02:00",
}
EXPENSE_FORM = {
    "expenses[0].kind": "commission",
    "expenses[0].amount": "9,000.00",
    "expenses[2].kind": "court_fee",  # row 1 left blank: ignored, and row 2 is the service's expenses[1]
    "expenses[2].amount": "1,000.01",
}


@pytest.fixture
async def lot(client: httpx.AsyncClient, as_role: Any) -> Book:
    Clock(START)
    return await two_asset_lot(client, as_role)


@pytest.fixture
async def second(app: Any) -> dict[str, str]:
    return await second_officer_headers(app)


async def api_open(client: httpx.AsyncClient, as_role: Any, profile: str = "cn-judicial-online") -> None:
    r = await client.post(
        "/api/disposals",
        headers=as_role(OFFICER),
        json={"ref": "C1", "asset_refs": ["A1", "A2"], "profile": profile},
    )
    assert r.status_code == 201, r.text


async def sold(client: httpx.AsyncClient, as_role: Any, second: dict[str, str]) -> None:
    """C1 under cn-commercial, sold privately for 810,000.01 (the hand-worked lot of test_disposals.py)."""
    await api_open(client, as_role, "cn-commercial")
    officer = as_role(OFFICER)
    r = await client.post("/api/disposals/C1/moves", headers=officer, json={"to": "start_private_sale"})
    assert r.status_code == 200, r.text
    r = await client.post("/api/disposals/C1/offers", headers=officer, json={"buyer": "Harbour", "price": "810000.01"})
    assert r.status_code == 201, r.text
    offer_id = r.json()["offers"][0]["id"]
    r = await client.post(f"/api/disposals/C1/offers/{offer_id}/accept", headers=second)
    assert r.status_code == 200, r.text


async def state_of(client: httpx.AsyncClient, as_role: Any) -> dict[str, Any]:
    r = await client.get("/api/disposals/C1", headers=as_role(Role.AUDITOR))
    assert r.status_code == 200, r.text
    return dict(r.json())


def field_error(html: str, control_id: str) -> str | None:
    found = re.search(rf'<span class="field-error" id="{re.escape(control_id)}-error"[^>]*>([^<]+)</span>', html)
    return found.group(1) if found else None


def lines_shown(html: str) -> list[tuple[str, ...]]:
    return re.findall(
        r'<tr data-asset="([^"]*)" data-lien="([^"]*)" data-rank="([^"]*)" data-loan="([^"]*)"\s+'
        r'data-component="([^"]*)" data-amount="([^"]*)"',
        html,
    )


def redirected_to(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 303, response.text[:2000]
    target = urlsplit(response.headers["location"])
    return target.path, parse_qs(target.query)


# --- who may see and who may act ------------------------------------------------------------------


async def test_every_disposal_page_opens_for_every_member_of_staff(
    client: httpx.AsyncClient, as_role: Any, lot: Book, second: dict[str, str]
) -> None:
    await sold(client, as_role, second)
    r = await client.post("/api/disposals/C1/settlement", headers=as_role(OFFICER), json={"expenses": []})
    assert r.status_code == 201, r.text
    for role in STAFF:
        for path in READ_PAGES:
            r = await client.get(path, headers=as_role(role))
            assert r.status_code == 200, (role, path, r.text[:500])
            assert r.headers["content-type"].startswith("text/html")
        listed = await client.get("/disposals", headers=as_role(role))
        assert '<a href="/disposals/C1">C1</a>' in listed.text
        assert re.search(r'<a href="/disposals" aria-current="page">Disposal</a>', listed.text), role
    assert (await client.get("/disposals/new?asset_refs=A1", headers=as_role(OFFICER))).status_code == 200
    home = await client.get("/assets", headers=as_role(Role.CREDIT_OFFICER))
    assert re.search(r'<a href="/disposals">Disposal</a>', home.text)  # in the navigation, not the current page


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", p) for p in [*READ_PAGES, "/disposals/new"]]
    + [("POST", p) for p, _ in ACTIONS]
    + [("POST", "/disposals/C1/waterfall")],
)
async def test_anonymous_users_are_sent_to_sign_in_and_bidders_refused(
    client: httpx.AsyncClient, as_role: Any, method: str, path: str
) -> None:
    r = await client.request(method, path)
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/login"
    r = await client.request(method, path, headers=as_role(Role.BIDDER))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "Not allowed" in r.text


async def test_bidders_have_no_disposal_link_and_the_pages_stay_out_of_the_api_schema(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    home = await client.get("/home", headers=as_role(Role.BIDDER))
    assert home.status_code == 200
    assert 'href="/disposals"' not in home.text
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/disposals")]


async def test_only_disposal_officers_act_and_others_change_nothing(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role)
    before = await state_of(client, as_role)
    assert NOT_OFFICERS and Role.AUDITOR in NOT_OFFICERS and Role.ADMIN in NOT_OFFICERS
    for role in NOT_OFFICERS:
        r = await client.get("/disposals/new", headers=as_role(role))
        assert r.status_code == 403, role
        for path, form in ACTIONS:
            r = await client.post(path, data=form, headers=as_role(role))
            assert r.status_code == 403, (role, path)
            assert "Not allowed" in r.text
    assert await state_of(client, as_role) == before
    listed = await client.get("/api/disposals", headers=as_role(Role.AUDITOR))
    assert [c["ref"] for c in listed.json()["items"]] == ["C1"]


async def test_other_staff_read_the_case_file_without_any_action(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role)
    officer = await client.get("/disposals/C1", headers=as_role(OFFICER))
    assert 'data-testid="case-actions"' in officer.text
    assert 'action="/disposals/C1/rounds"' in officer.text
    for role in NOT_OFFICERS:
        page = await client.get("/disposals/C1", headers=as_role(role))
        assert page.status_code == 200
        assert 'data-testid="case-actions"' not in page.text, role
        assert 'method="post" action="/disposals' not in page.text, role
        assert "900,000.00 CNY" in page.text  # the same case file: the lot's appraisal
        assert '<a href="/coverage/loans/L1">L1</a>' in page.text
        assert '<a href="/assets/A2">A2</a>' in page.text


# --- opening a case -----------------------------------------------------------------------------------


async def test_open_a_case_from_the_form(client: httpx.AsyncClient, as_role: Any, lot: Book) -> None:
    officer = as_role(OFFICER)
    form = await client.get("/disposals/new?asset_refs=A1+A2", headers=officer)
    assert 'name="asset_refs" value="A1, A2"' in form.text
    for name in ("cn-judicial-online", "cn-commercial", "us-ucc"):
        assert f'<option value="{name}"' in form.text
    assert "China, online judicial auction (SPC rules 2016)" in form.text

    r = await client.post(
        "/disposals/new", data={"ref": "C1", "asset_refs": "A1 NOPE", "profile": "cn-commercial"}, headers=officer
    )
    assert r.status_code == 422
    assert field_error(r.text, "asset_refs") == "no asset with ref &#39;NOPE&#39;"
    assert 'value="A1 NOPE"' in r.text  # kept as typed
    r = await client.post("/disposals/new", data={"ref": "", "asset_refs": "", "profile": "x"}, headers=officer)
    assert r.status_code == 422
    assert field_error(r.text, "ref") and field_error(r.text, "asset_refs") and field_error(r.text, "profile")

    r = await client.post(
        "/disposals/new", data={"ref": "C1", "asset_refs": "A1, A2", "profile": "cn-commercial"}, headers=officer
    )
    assert redirected_to(r) == ("/disposals/C1", {"done": ["opened"]})
    page = await client.get(r.headers["location"], headers=officer)
    assert 'data-testid="case-status"' in page.text
    assert (await state_of(client, as_role))["profile"] == "cn-commercial"

    r = await client.post(
        "/disposals/new", data={"ref": "C2", "asset_refs": "A2", "profile": "us-ucc"}, headers=officer
    )
    assert r.status_code == 409
    assert field_error(r.text, "asset_refs") == "asset A2 is already in open disposal case C1"

    asset = await client.get("/assets/A1", headers=officer)
    assert 'data-testid="open-disposal"' not in asset.text  # in disposal now: the page links to its case
    assert 'href="/disposals?asset_ref=A1"' in asset.text


async def test_the_asset_page_offers_a_case_only_to_disposal_officers(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    page = await client.get("/assets/A1", headers=as_role(OFFICER))
    assert 'href="/disposals/new?asset_refs=A1"' in page.text
    for role in NOT_OFFICERS:
        page = await client.get("/assets/A1", headers=as_role(role))
        assert "/disposals/new" not in page.text, role


# --- the case page's forms ------------------------------------------------------------------------------


async def test_a_refused_round_comes_back_422_with_the_rule_beside_the_field(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role)
    officer = as_role(OFFICER)
    r = await client.post("/disposals/C1/rounds", data={**ROUND_FORM, "starting_price": "629,999.99"}, headers=officer)
    assert r.status_code == 422
    assert field_error(r.text, "round-starting_price") == (
        "starting price 629,999.99 is below 70% of the appraisal 900,000.00 (cn-judicial-online)"
    )
    assert re.search(r'id="round-starting_price" name="starting_price" type="text" value="629,999.99"', r.text)
    assert 'aria-invalid="true" aria-describedby="round-starting_price-error"' in r.text
    assert "<details" in r.text and 'data-testid="round-action" open' in r.text  # the form stays open
    assert (await state_of(client, as_role))["rounds"] == []

    bad = {**ROUND_FORM, "ends_at": "", "deposit": "1,2,3"}
    r = await client.post("/disposals/C1/rounds", data=bad, headers=officer)
    assert r.status_code == 422
    assert field_error(r.text, "round-ends_at") == "enter a date and time (UTC)"

    r = await client.post("/disposals/C1/rounds", data=ROUND_FORM, headers=officer)
    assert redirected_to(r) == ("/disposals/C1", {"done": ["round"]})
    case = await state_of(client, as_role)
    assert case["state"] == "auction"
    [scheduled] = case["rounds"]
    assert (scheduled["starting_price"], scheduled["starts_at"]) == ("630000.00", "2026-03-22T02:00:00Z")

    r = await client.post("/disposals/C1/rounds", data=ROUND_FORM, headers=officer)
    assert r.status_code == 409  # a round is under way: said above the actions, not as a bare error page
    alert = re.search(r'data-testid="case-alert">([^<]+)<', r.text)
    assert alert and "cannot schedule_round" in alert.group(1)


async def test_moves_are_confirmed_forms_and_refusals_are_shown_in_place(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role, "cn-commercial")
    officer = as_role(OFFICER)
    page = await client.get("/disposals/C1", headers=officer)
    assert 'data-testid="move-start_private_sale"' in page.text
    assert 'data-testid="move-take_in_lieu"' not in page.text  # no round has failed
    r = await client.post("/disposals/C1/moves", data={"to": "take_in_lieu"}, headers=officer)
    assert r.status_code == 409
    alert = re.search(r'data-testid="case-alert">([^<]+)<', r.text)
    assert alert and "no round has failed" in alert.group(1)
    r = await client.post("/disposals/C1/moves", data={"to": "explode"}, headers=officer)
    assert r.status_code == 422
    move = {"to": "start_private_sale", "memo": "by the book"}
    r = await client.post("/disposals/C1/moves", data=move, headers=officer)
    assert redirected_to(r) == ("/disposals/C1", {"done": ["start_private_sale"]})
    assert (await state_of(client, as_role))["state"] == "private_sale"


async def test_a_private_sale_offer_needs_a_second_officer_to_accept(
    client: httpx.AsyncClient, as_role: Any, lot: Book, second: dict[str, str]
) -> None:
    await api_open(client, as_role, "cn-commercial")
    officer = as_role(OFFICER)
    await client.post("/api/disposals/C1/moves", headers=officer, json={"to": "start_private_sale"})
    r = await client.post("/disposals/C1/offers", data={"buyer": "", "price": "abc"}, headers=officer)
    assert r.status_code == 422
    assert field_error(r.text, "offer-buyer") == "name the buyer"
    r = await client.post(
        "/disposals/C1/offers",
        data={"buyer": "Harbour Holdings", "price": "810,000.01", "terms": "cash in 30 days"},
        headers=officer,
    )
    assert redirected_to(r) == ("/disposals/C1", {"done": ["offer"]})
    [offer] = (await state_of(client, as_role))["offers"]
    assert (offer["price"], offer["made_by"]) == ("810000.01", "disposal_officer1")

    own = await client.get("/disposals/C1", headers=officer)
    assert 'data-testid="own-offer"' in own.text
    assert f'action="/disposals/C1/offers/{offer["id"]}/accept"' not in own.text
    r = await client.post(f"/disposals/C1/offers/{offer['id']}/accept", headers=officer)
    assert r.status_code == 403  # four eyes, said beside the offer
    refusal = re.search(r'data-testid="accept-error">([^<]+)<', r.text)
    assert refusal and "four eyes" in refusal.group(1)

    other = await client.get("/disposals/C1", headers=second)
    assert f'action="/disposals/C1/offers/{offer["id"]}/accept"' in other.text
    r = await client.post(f"/disposals/C1/offers/{offer['id']}/accept", headers=second)
    assert redirected_to(r) == ("/disposals/C1", {"done": ["accepted"]})
    case = await state_of(client, as_role)
    assert (case["state"], case["sale_price"], case["buyer"]) == ("sold", "810000.01", "Harbour Holdings")


# --- the waterfall, the settlement, the statement, the metrics -------------------------------------------------


async def test_the_preview_page_shows_the_lines_the_api_computes(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role, "cn-commercial")
    reader = as_role(Role.CREDIT_OFFICER)
    form = await client.get("/disposals/C1/waterfall", headers=reader)
    assert 'name="gross_proceeds" type="text" value="900,000.00"' in form.text  # the lot's appraisal to start from
    r = await client.post(
        "/disposals/C1/waterfall",
        data={"gross_proceeds": "810,000.01", "profile": "cn-civil-code", **EXPENSE_FORM},
        headers=reader,
    )
    assert r.status_code == 200, r.text[:2000]
    api = await client.post(
        "/api/disposals/C1/waterfall",
        headers=reader,
        json={
            "gross_proceeds": "810000.01",
            "profile": "cn-civil-code",
            "expenses": [{"kind": "commission", "amount": "9000.00"}, {"kind": "court_fee", "amount": "1000.01"}],
        },
    )
    w = api.json()
    expected = [
        (x["asset_id"], x["lien_id"], str(x["rank"]), x["loan_id"] or "", x["component"] or "", x["amount"])
        for x in w["lines"]
    ]
    assert expected and lines_shown(r.text) == expected
    shown_expenses = re.findall(r'<tr data-asset="([^"]+)" data-kind="([^"]+)" data-amount="([^"]+)"', r.text)
    assert shown_expenses == [(e["asset_id"], e["kind"], e["amount"]) for e in w["expenses"]]
    assert 'data-field="total" data-value="810000.01"' in r.text
    assert 'data-field="gross" data-value="810000.01"' in r.text
    assert 'data-testid="adds-up"' in r.text
    for d in w["deficiency"]:
        assert f'<tr data-loan="{d["loan_id"]}" data-amount="{d["amount"]}">' in r.text
    assert "27,050.73" in r.text  # L1's deficiency, with thousands separators

    r = await client.post(
        "/disposals/C1/waterfall",
        data={"gross_proceeds": "12.345", "expenses[1].kind": "tax", "expenses[1].amount": "-1"},
        headers=reader,
    )
    assert r.status_code == 422
    assert field_error(r.text, "gross_proceeds")
    assert field_error(r.text, "expenses-1-amount")  # the service's expenses[0] is the form's row 1
    assert 'data-testid="waterfall-result"' not in r.text


async def test_settlement_is_proposed_and_confirmed_by_two_officers_on_the_pages(
    client: httpx.AsyncClient, as_role: Any, lot: Book, second: dict[str, str]
) -> None:
    await sold(client, as_role, second)
    officer = as_role(OFFICER)
    page = await client.get("/disposals/C1/settlement", headers=officer)
    assert 'data-testid="gross" data-value="810000.01"' in page.text
    assert 'data-testid="propose-form"' in page.text
    reader = await client.get("/disposals/C1/settlement", headers=as_role(Role.AUDITOR))
    assert 'data-testid="propose-form"' not in reader.text

    r = await client.post(
        "/disposals/C1/settlement", data={**EXPENSE_FORM, "expenses[2].document_ids": "999"}, headers=officer
    )
    assert r.status_code == 422
    assert field_error(r.text, "expenses-2-document_ids") == "no document with id 999"
    invoice = await client.post(
        "/api/documents",
        files={"file": ("court-fee-invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")},
        data={"entity": "asset", "entity_ref": "A1"},
        headers=officer,
    )
    assert invoice.status_code == 201, invoice.text
    evidence = invoice.json()["id"]
    r = await client.post(
        "/disposals/C1/settlement", data={**EXPENSE_FORM, "expenses[2].document_ids": f"#{evidence}"}, headers=officer
    )
    assert redirected_to(r) == ("/disposals/C1/settlement", {"done": ["proposed"]})

    mine = await client.get("/disposals/C1/settlement", headers=officer)
    assert 'data-testid="awaiting-second"' in mine.text
    assert 'data-testid="confirm-form"' not in mine.text
    r = await client.post("/disposals/C1/settlement/confirm", headers=officer)
    assert r.status_code == 403
    alert = re.search(r'data-testid="settlement-alert">([^<]+)<', r.text)
    assert alert and "four eyes" in alert.group(1)
    draft = await client.get("/disposals/C1/statement", headers=as_role(Role.AUDITOR))
    assert 'data-testid="draft"' in draft.text

    theirs = await client.get("/disposals/C1/settlement", headers=second)
    assert 'data-testid="confirm-form"' in theirs.text
    r = await client.post("/disposals/C1/settlement/confirm", headers=second)
    assert redirected_to(r) == ("/disposals/C1/settlement", {"done": ["confirmed"]})
    assert (await state_of(client, as_role))["state"] == "settled"
    r = await client.post("/disposals/C1/settlement/confirm", headers=second)
    assert r.status_code == 409  # exactly once

    statement = await client.get("/disposals/C1/statement", headers=as_role(Role.AUDITOR))
    html = statement.text
    assert 'data-testid="draft"' not in html
    assert re.search(r'data-testid="statement-proposed">disposal_officer1 · 2026-03-01 10:00 UTC<', html)
    assert re.search(r'data-testid="statement-confirmed">disposal_officer2 · 2026-03-01 10:00 UTC<', html)
    assert "810,000.01 CNY" in html
    assert len(lines_shown(html)) == 6  # every allocation line of the hand-worked lot
    assert 'data-field="total" data-value="810000.01"' in html
    assert 'data-testid="deficiency"' in html and "93,949.27" in html
    assert (
        f'<a href="/api/documents/{evidence}/content" data-document="{evidence}">#{evidence} court-fee-invoice.pdf</a>'
        in html
    )


async def test_metrics_page_and_filters_refuse_unknown_values(
    client: httpx.AsyncClient, as_role: Any, lot: Book
) -> None:
    await api_open(client, as_role)
    reader = as_role(Role.AUDITOR)
    for by in ("asset_kind", "profile", "month", "all"):
        r = await client.get(f"/disposals/metrics?by={by}", headers=reader)
        assert r.status_code == 200, by
        assert f'href="/api/disposals/metrics?by={by}&amp;format=csv"' in r.text
    r = await client.get("/disposals/metrics?by=profile", headers=reader)
    assert '<tr data-group="cn-judicial-online" data-currency="CNY">' in r.text
    assert (await client.get("/disposals/metrics?by=colour", headers=reader)).status_code == 422
    r = await client.get("/disposals?state=open&profile=cn-judicial-online&asset_ref=A2&q=C", headers=reader)
    assert re.findall(r'<tr data-ref="([^"]+)"', r.text) == ["C1"]
    r = await client.get("/disposals?state=settled", headers=reader)
    assert 'data-testid="no-cases"' in r.text
    assert (await client.get("/disposals?state=sunk", headers=reader)).status_code == 422
    assert (await client.get("/disposals/NOPE", headers=reader)).status_code == 404
