"""The record pages over HTTP: a loan with its ledger and forms, a borrower with its group exposure, a lien with
its registration buttons, each ref a link to its page, and the role guard on every one."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from registry.roles import Role
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

CREDIT, MANAGER, AUDITOR = Role.CREDIT_OFFICER, Role.ASSET_MANAGER, Role.AUDITOR


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    """Borrower P1 with loans L1 (CNY 1,000,000.00 + 2,500.50 interest) and L2 (USD 300.00); asset A1 owned by a
    third party P2, under a registered lien LN1 securing L1; a draft lien LN2 on A1 securing L1 too."""
    b = Book(client, as_role)
    await b.party("P1", name="Harbour Trading Co.")
    await b.party("P2", name="Owner Holdings")
    await b.loan("L1", principal="1000000.00", maturity="2030-06-30")
    await b.post("L1", "accrual", interest="2500.50")
    await b.loan("L2", currency="USD", principal="300.00")
    await b.asset("A1", owner="P2", description="Warehouse on Dock Road")
    await b.lien("LN1", cap="2000000.00")
    await b.register("LN1", datetime(2025, 3, 1, tzinfo=UTC), number="REG-2025-001")
    await b.lien("LN2")
    return b


def hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row with {attribute}={value}"
    return found.group(1)


# --- the loan page ----------------------------------------------------------------------------------------------


async def test_loan_page_shows_balance_ledger_and_ranked_liens_with_links(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    r = await client.get("/loans/L1", headers=as_role(AUDITOR))
    assert r.status_code == 200
    html = r.text
    assert 'data-component="principal" data-value="1000000.00"' in html
    assert 'data-component="interest" data-value="2500.50"' in html
    assert 'data-component="total" data-value="1002500.50"' in html
    assert "1,002,500.50 CNY" in html
    assert 'data-testid="maturity">2030-06-30<' in html
    # Two postings, newest first, each with who posted it.
    assert re.findall(r'data-posting="\d+" data-kind="(\w+)"', html) == ["accrual", "disbursement"]
    assert "by credit_officer1" in html
    # The registered lien ranks first, the draft after it; both are links, and so are their assets.
    assert 'data-ref="LN1" data-rank="1"' in html and 'data-ref="LN2" data-rank="2"' in html
    links = hrefs(html)
    assert {"/parties/P1", "/liens/LN1", "/liens/LN2", "/assets/A1", "/coverage/loans/L1"} <= links
    # An auditor reads the page without the credit officer's forms.
    assert 'data-testid="posting-form"' not in html and 'data-testid="status-form"' not in html
    assert "/reversal" not in html


async def test_credit_officer_posts_an_amount_typed_with_thousands_separators(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    officer = as_role(CREDIT)
    page = await client.get("/loans/L1", headers=officer)
    assert 'data-testid="posting-form"' in page.text and 'data-testid="status-form"' in page.text
    form = {"kind": "repayment", "value_date": "2026-02-01", "principal": "250,000.00", "interest": "1,000.50"}
    r = await client.post("/loans/L1/postings", data=form, headers=officer)
    assert r.status_code == 303
    assert r.headers["location"] == "/loans/L1?done=posted#ledger"
    balance = (await client.get("/api/loans/L1", headers=officer)).json()["balance"]
    assert balance["principal"] == "750000.00" and balance["interest"] == "1500.00"
    after = await client.get(r.headers["location"], headers=officer)
    assert "Posting recorded on the ledger." in after.text
    assert re.findall(r'data-posting="\d+" data-kind="(\w+)"', after.text)[0] == "repayment"


async def test_a_refused_posting_is_shown_on_the_loan_page_in_plain_words(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    officer = as_role(CREDIT)
    form = {"kind": "repayment", "value_date": "2026-02-01", "principal": "2,000,000.00", "memo": "too much"}
    r = await client.post("/loans/L1/postings", data=form, headers=officer)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-testid="form-errors"' in r.text
    error = re.search(r'<span class="field-error" id="principal-error" data-field="principal">([^<]+)<', r.text)
    assert error and error.group(1) == "more than the principal outstanding, which is 1,000,000.00"
    assert 'value="2,000,000.00"' in r.text  # the form comes back as typed
    assert "would take" not in r.text and '"errors"' not in r.text
    ledger = (await client.get("/api/loans/L1/postings", headers=officer)).json()
    assert ledger["total"] == 2  # nothing was written


async def test_the_posting_form_names_every_mistake_at_once(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    form = {"kind": "", "value_date": "01/02/2026", "principal": "1,2,3"}
    r = await client.post("/loans/L1/postings", data=form, headers=as_role(CREDIT))
    assert r.status_code == 422
    fields = set(re.findall(r'class="field-error" id="[^"]+" data-field="([^"]+)"', r.text))
    assert {"kind", "value_date"} <= fields
    # A kind that cannot carry a component is said in the desk's words.
    form = {"kind": "disbursement", "value_date": "2026-02-01", "principal": "10", "fees": "5"}
    r = await client.post("/loans/L1/postings", data=form, headers=as_role(CREDIT))
    assert r.status_code == 422
    assert "a disbursement does not move fees; leave it at 0" in r.text


async def test_a_posting_is_reversed_once_and_a_second_reversal_is_refused_inline(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    officer = as_role(CREDIT)
    postings = (await client.get("/api/loans/L1/postings", headers=officer)).json()["items"]
    accrual = next(p["id"] for p in postings if p["kind"] == "accrual")
    r = await client.post(f"/loans/L1/postings/{accrual}/reversal", data={"memo": "posted twice"}, headers=officer)
    assert r.status_code == 303
    page = await client.get("/loans/L1", headers=officer)
    assert "Reversed by #" in page.text and f"Reverses #{accrual}" in page.text
    assert 'data-component="interest" data-value="0.00"' in page.text
    again = await client.post(f"/loans/L1/postings/{accrual}/reversal", data={}, headers=officer)
    assert again.status_code == 409
    assert 'data-testid="ledger-alert"' in again.text and "already been reversed" in again.text


async def test_credit_officer_changes_status_classification_and_maturity(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    officer = as_role(CREDIT)
    form = {"status": "overdue", "classification": "substandard", "maturity": "2031-01-31"}
    r = await client.post("/loans/L1/status", data=form, headers=officer)
    assert r.status_code == 303
    loan = (await client.get("/api/loans/L1", headers=officer)).json()
    assert (loan["status"], loan["classification"], loan["maturity"]) == ("overdue", "substandard", "2031-01-31")
    refused = await client.post("/loans/L1/status", data={**form, "status": "lost"}, headers=officer)
    assert refused.status_code == 422
    assert 'data-field="status">&#39;lost&#39; is not one of the choices' in refused.text


@pytest.mark.parametrize("role", [Role.ASSET_MANAGER, Role.AUDITOR, Role.DISPOSAL_OFFICER, Role.BIDDER])
async def test_only_credit_officers_and_admins_may_post_or_change_a_loan(
    client: httpx.AsyncClient, as_role: Any, book: Book, role: Role
) -> None:
    form = {"kind": "repayment", "value_date": "2026-02-01", "principal": "1.00"}
    assert (await client.post("/loans/L1/postings", data=form, headers=as_role(role))).status_code == 403
    assert (await client.post("/loans/L1/status", data={"status": "overdue"}, headers=as_role(role))).status_code == 403
    ledger = (await client.get("/api/loans/L1/postings", headers=as_role(Role.ADMIN))).json()
    assert ledger["total"] == 2


async def test_record_pages_refuse_bidders_and_send_strangers_to_sign_in(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    for path in ("/loans/L1", "/parties/P1", "/liens/LN1", "/search?q=P1", "/audit"):
        assert (await client.get(path, headers=as_role(Role.BIDDER))).status_code == 403, path
        anonymous = await client.get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login"), path
    assert (await client.get("/loans/NOPE", headers=as_role(AUDITOR))).status_code == 404


# --- the borrower page ------------------------------------------------------------------------------------------


async def test_borrower_page_shows_loans_pledged_assets_and_group_exposure_per_currency(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    r = await client.get("/parties/P1", headers=as_role(CREDIT))
    assert r.status_code == 200
    html = r.text
    assert 'data-currency="CNY" data-total="1002500.50"' in html
    assert 'data-currency="USD" data-total="300.00"' in html
    assert "1,002,500.50" in html
    assert re.findall(r'<tr data-ref="(L\d)">', html) == ["L1", "L2"]
    pledged = row(html, "data-ref", "A1")
    assert "third party" in pledged and 'href="/parties/P2"' in pledged
    assert 'href="/liens/LN1"' in pledged and 'href="/liens/LN2"' in pledged and 'href="/loans/L1"' in pledged
    assert 'data-testid="no-owned"' in html
    owner = await client.get("/parties/P2", headers=as_role(CREDIT))
    assert 'href="/assets/A1"' in owner.text and 'data-testid="no-loans"' in owner.text


async def test_group_exposure_leaves_settled_loans_out(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    r = await client.patch("/api/loans/L2", json={"status": "settled"}, headers=as_role(CREDIT))
    assert r.status_code == 200
    html = (await client.get("/parties/P1", headers=as_role(AUDITOR))).text
    assert 'data-currency="USD"' not in html
    assert 'data-currency="CNY" data-total="1002500.50"' in html
    assert '<tr data-ref="L2">' in html  # the loan is still listed, only its balance leaves the exposure


async def test_identity_numbers_on_the_borrower_page_are_masked_by_role(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    await book.party("P9", id_number="110101199003070011")
    masked = await client.get("/parties/P9", headers=as_role(CREDIT))
    assert "**************0011" in masked.text and "110101199003070011" not in masked.text
    whole = await client.get("/parties/P9", headers=as_role(AUDITOR))
    assert "110101199003070011" in whole.text


async def test_asset_page_links_to_its_owner_liens_and_loans(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    html = (await client.get("/assets/A1", headers=as_role(AUDITOR))).text
    assert {"/parties/P2", "/liens/LN1", "/liens/LN2", "/loans/L1"} <= hrefs(html)


async def test_coverage_explanation_links_back_to_the_loan_and_its_borrower(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    policy = {"haircut": "0.3", "revaluation_days": 365, "max_ltv": "0.7"}
    r = await client.put("/api/policies/real_estate", json=policy, headers=as_role(Role.ADMIN))
    assert r.status_code == 200, r.text
    page = await client.get("/coverage/loans/L1", headers=as_role(CREDIT))
    assert page.status_code == 200
    assert {"/loans/L1", "/parties/P1"} <= hrefs(page.text)
