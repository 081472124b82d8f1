"""The list pages' filters, sorts and CSV downloads (issue 14, item 4) and the forms' amounts with thousands
separators and refusals in place (item 5)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest

from registry.roles import Role
from tests.integration.disposal_book import two_asset_lot
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

FORMULA_NAME = '=HYPERLINK("http://x")'


def loan_refs(html: str) -> list[str]:
    table = html.split('data-testid="coverage-loans"', 1)[1].split("</table>", 1)[0] if "coverage-loans" in html else ""
    return re.findall(r'<tr data-ref="([^"]+)"', table)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    """two_asset_lot (P1: L1 520,000.00 and L2 301,000.00, both secured) and P2, whose L3 of 900,000.00 has no
    collateral (bucket "uncovered"); P2's name is one a spreadsheet would run as a formula."""
    b = await two_asset_lot(client, as_role)
    await b.party("P2", name=FORMULA_NAME)
    await b.loan("L3", "P2", principal="900000.00")
    await b.asset("A9", owner="P2", description="=1+2")  # never valued: on the worklist
    return b


async def test_coverage_loans_filter_by_bucket_borrower_and_currency(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.AUDITOR)
    every = (await client.get("/coverage/loans", headers=reader)).text
    assert loan_refs(every) == ["L1", "L2", "L3"]
    by_borrower = await client.get("/coverage/loans?borrower=P2", headers=reader)
    assert loan_refs(by_borrower.text) == ["L3"]
    uncovered = await client.get("/coverage/loans?bucket=uncovered", headers=reader)
    assert loan_refs(uncovered.text) == ["L3"]
    assert loan_refs((await client.get("/coverage/loans?currency=cny", headers=reader)).text) == ["L1", "L2", "L3"]
    usd = await client.get("/coverage/loans?currency=USD", headers=reader)
    assert loan_refs(usd.text) == [] and 'data-testid="no-loans"' in usd.text
    # A value the list does not know is refused by name, not ignored.
    bad = await client.get("/coverage/loans?bucket=most", headers=reader)
    assert bad.status_code == 422 and "bucket" in bad.text


async def test_coverage_loans_sort_by_exposure_uncovered_and_ltv(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.CREDIT_OFFICER)
    largest = (await client.get("/coverage/loans?sort=-exposure", headers=reader)).text
    assert loan_refs(largest) == ["L3", "L1", "L2"]
    assert 'aria-sort="descending"' in largest
    smallest = (await client.get("/coverage/loans?sort=exposure", headers=reader)).text
    assert loan_refs(smallest) == ["L2", "L1", "L3"]
    assert loan_refs((await client.get("/coverage/loans?sort=-uncovered", headers=reader)).text)[0] == "L3"
    # A loan without collateral has no LTV: it comes last whichever way LTV is sorted.
    for order in ("ltv", "-ltv"):
        assert loan_refs((await client.get(f"/coverage/loans?sort={order}", headers=reader)).text)[-1] == "L3"
    # The column heading sorts the other way once it is the sort; the filters ride along.
    html = (await client.get("/coverage/loans?sort=-exposure&borrower=P1", headers=reader)).text
    assert 'href="/coverage/loans?as_of=' in html and "borrower=P1&amp;sort=exposure" in html
    assert (await client.get("/coverage/loans?sort=name", headers=reader)).status_code == 422


async def test_coverage_loans_csv_keeps_the_filters_and_the_order(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.AUDITOR)
    html = (await client.get("/coverage/loans?borrower=P1&sort=-exposure", headers=reader)).text
    link = re.search(r'href="([^"]+)" data-testid="csv-link"', html)
    assert link is not None
    url = link.group(1).replace("&amp;", "&")
    assert "format=csv" in url and "borrower=P1" in url and "sort=-exposure" in url
    got = rows(await client.get(url, headers=reader))
    assert [r["loan_id"] for r in got] == ["L1", "L2"]
    assert got[0]["exposure"] == "520000.00"
    # The API's Parquet of the same date is linked beside it.
    parquet = re.search(r'href="([^"]+)" data-testid="parquet-link"', html)
    assert parquet is not None and parquet.group(1).startswith("/api/coverage/loans?")
    r = await client.get(parquet.group(1).replace("&amp;", "&"), headers=reader)
    assert r.status_code == 200 and r.content[:4] == b"PAR1"


async def test_summary_figures_open_the_loans_behind_them(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    reader = as_role(Role.AUDITOR)
    html = (await client.get("/coverage", headers=reader)).text
    bucket_link = re.search(r'<tr data-bucket="uncovered">.*?data-field="loans"><a href="([^"]+)">1</a>', html, re.S)
    assert bucket_link is not None
    listed = await client.get(bucket_link.group(1).replace("&amp;", "&"), headers=reader)
    assert loan_refs(listed.text) == ["L3"]
    breach_link = re.search(r'data-field="breaches"><a href="([^"]+)">(\d+)</a>', html)
    assert breach_link is not None and "flag=breach" in breach_link.group(1) and "currency=CNY" in breach_link.group(1)
    breaches = await client.get(breach_link.group(1).replace("&amp;", "&"), headers=reader)
    assert len(loan_refs(breaches.text)) == int(breach_link.group(2))


async def test_worklist_sorts_by_days_overdue_and_shows_owner_value_and_the_act(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    # Appraised 2026-01-10 under a 365-day policy; a year and a half later both are overdue, A9 was never valued.
    as_of = "2027-07-01"
    html = (await client.get(f"/worklist?as_of={as_of}", headers=manager)).text
    assets = re.findall(r'<tr data-ref="(A\d)" data-reason="(\w+)"', html)
    assert assets[0] == ("A9", "no_valuation")
    row = html.split('<tr data-ref="A1"', 1)[1].split("</tr>", 1)[0]
    assert "P1" in row and "Party P1" in row and "600,000.00" in row
    assert 'href="/assets/A1#valuations"' in row and "Record a valuation" in row
    most = (await client.get(f"/worklist?as_of={as_of}&sort=-days_overdue", headers=manager)).text
    least = (await client.get(f"/worklist?as_of={as_of}&sort=days_overdue", headers=manager)).text
    assert re.findall(r'<tr data-ref="(A\d)" data-reason', most)[0] == "A9"
    assert re.findall(r'<tr data-ref="(A\d)" data-reason', least)[-1] == "A9"
    # An auditor reads the same list and is offered to open the asset, not to value it.
    assert "Open the asset" in (await client.get(f"/worklist?as_of={as_of}", headers=as_role(Role.AUDITOR))).text
    assert (await client.get("/worklist?sort=oldest", headers=manager)).status_code == 422


async def test_worklist_csv_escapes_a_formula_in_a_cell(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    got = rows(
        await client.get("/worklist?as_of=2027-07-01&format=csv&reason=no_valuation", headers=as_role(Role.AUDITOR))
    )
    assert [r["asset"] for r in got] == ["A9"]
    assert got[0]["owner"] == "'" + FORMULA_NAME  # a spreadsheet shows it as text instead of running it
    liens = await client.get(
        "/worklist?as_of=2027-07-01&within_days=400&format=csv&list=liens", headers=as_role(Role.AUDITOR)
    )
    assert liens.text.splitlines()[0].startswith("lien,asset,owner_ref,owner,")


async def test_every_list_page_downloads_its_rows_as_csv(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    admin = as_role(Role.ADMIN)
    assets = rows(await client.get("/assets?format=csv&q=A9", headers=admin))
    assert [(r["ref"], r["description"]) for r in assets] == [("A9", "'=1+2")]
    register = (await client.get("/assets?kind=real_estate", headers=admin)).text
    assert 'href="/assets?kind=real_estate&amp;format=csv"' in register
    audit = rows(await client.get("/audit?format=csv&entity=party", headers=admin))
    assert {r["ref"] for r in audit} == {"P1", "P2"} and {r["entity"] for r in audit} == {"party"}
    assert 'data-testid="csv-link"' in (await client.get("/audit?entity=party", headers=admin)).text
    for path, header in (
        ("/disposals?format=csv", "case"),
        ("/overlaps?format=csv", "overlaps_asset"),
        ("/valuations?format=csv", "market_value"),
    ):
        r = await client.get(path, headers=admin)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), path
        assert header in r.text.splitlines()[0], path
    for path in ("/disposals", "/overlaps", "/valuations", "/worklist", "/assets"):
        assert "Download CSV" in (await client.get(path, headers=admin)).text, path


async def test_whatif_takes_amounts_with_thousands_separators(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    form = {"changes[0].type": "set_balance", "changes[0].loan_id": "L1", "changes[0].principal": "1,250,000.00"}
    r = await client.post("/coverage/what-if", data=form, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 200, r.text
    assert "1,250,000.00" in r.text or "1250000.00" in r.text
    badly_grouped = {**form, "changes[0].principal": "1,25,0000"}
    r = await client.post("/coverage/what-if", data=badly_grouped, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 422
    assert 'id="changes-0-principal-error"' in r.text  # beside the control, not a page of its own
    assert "problem+json" not in r.headers["content-type"] and "Validation failed" not in r.text


async def test_a_posting_with_separators_goes_through_and_a_refusal_stays_on_the_page(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    officer = as_role(Role.CREDIT_OFFICER)
    form = {"kind": "repayment", "principal": "1,000.00", "value_date": "2026-02-01"}
    r = await client.post("/loans/L1/postings", data=form, headers=officer)
    assert r.status_code == 303, r.text
    ledger = (await client.get("/api/loans/L1", headers=officer)).json()
    assert ledger["balance"]["principal"] == "499000.00"
    r = await client.post("/loans/L1/postings", data={**form, "principal": "9,999,999.00"}, headers=officer)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "more than the principal outstanding, which is 499,000.00" in r.text


async def test_a_bad_fx_rate_is_said_beside_the_field_on_the_coverage_pages(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    for path in ("/coverage?fx=CNY/USD=x", "/coverage/loans?fx=abc&borrower=P1"):
        r = await client.get(path, headers=as_role(Role.AUDITOR))
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), path
        assert 'id="fx-error"' in r.text and 'aria-invalid="true"' in r.text, path
        assert "error-page" not in r.text and "is not a rate such as" in r.text, path
