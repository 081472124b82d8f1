"""Every form and link of a list page keeps the filters and sort in force, except the one it changes (issue 14,
item 4): the loan coverage list's date form, the worklist's two lists and their sortable headings, the audit log's
"Verify the chain" and actor links; and every heading that looks sortable sorts."""

from __future__ import annotations

import html as html_text
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from registry.roles import Role
from tests.integration.disposal_book import appraise, two_asset_lot
from tests.integration.factory import Book
from tests.integration.page_forms import find_form, submit

pytestmark = pytest.mark.integration

AS_OF = "2027-07-01"  # a year and a half after the book's appraisals: every asset is due


def refs(html: str, testid: str) -> list[str]:
    if f'data-testid="{testid}"' not in html:
        return []
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-ref="([^"]+)"', table)


def heading_links(html: str, testid: str) -> dict[str, str]:
    """The sortable headings of one table: column -> the URL its link opens."""
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</thead>", 1)[0]
    found = re.findall(r'<a class="sort" href="([^"]+)" data-sort="([^"]+)"', table)
    return {column: html_text.unescape(href) for href, column in found}


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


async def page(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> str:
    r = await client.get(url, headers=headers)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:2000]}"
    return r.text


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    """two_asset_lot (P1 owns A1, 600,000.00 and A2, 300,000.00, appraised 2026-01-10; loans L1, L2), and P2 with
    A3 (450,000.00, appraised 2026-03-01), A9 (never valued) and loan L3. Three registered liens expire around
    AS_OF: E2 on A3 on 2027-06-01 (30 days past), E3 on A2 on 2027-07-15, E1 on A1 on 2027-08-01."""
    b = await two_asset_lot(client, as_role)
    await b.party("P2")
    await b.loan("L3", "P2", principal="400000.00")
    await b.asset("A3", owner="P2")
    await b.asset("A9", owner="P2")
    await appraise(client, as_role, "A3", "450000.00", valued_on="2026-03-01")
    for ref, asset, loan, expires in (
        ("E1", "A1", "L1", "2027-08-01"),
        ("E2", "A3", "L3", "2027-06-01"),
        ("E3", "A2", "L2", "2027-07-15"),
    ):
        await b.lien(ref, asset=asset, loans=[loan], expires_on=expires)
        await b.register(ref, datetime(2026, 4, 1, 2, tzinfo=UTC))
    return b


async def test_the_coverage_date_form_keeps_the_filters_and_the_sort(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.AUDITOR)
    listed = await page(client, "/coverage/loans?borrower=P1&currency=CNY&sort=-exposure", reader)
    assert refs(listed, "coverage-loans") == ["L1", "L2"]
    # A new date, sent from the date form: the borrower, the currency and the order stay.
    url = submit(listed, "coverage-filters", as_of="2026-06-30")
    sent = query(url)
    assert sent["as_of"] == "2026-06-30" and sent["borrower"] == "P1" and sent["currency"] == "CNY"
    assert sent["sort"] == "-exposure" and "page" not in sent
    again = await page(client, url, reader)
    assert refs(again, "coverage-loans") == ["L1", "L2"]
    assert 'aria-sort="descending"' in again and 'value="2026-06-30"' in again
    # Each form sends its own fields once, and the other's as hidden fields.
    assert [name for name, _ in find_form(listed, "coverage-filters").fields].count("as_of") == 1
    for name in ("flag", "bucket", "borrower", "currency", "sort"):
        assert [n for n, _ in find_form(again, "loan-filters").fields].count(name) == 1, name


async def test_a_loan_opened_from_the_list_leads_back_to_the_same_list(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.AUDITOR)
    kept = ("borrower", "currency", "sort", "page")
    listed = await page(client, "/coverage/loans?borrower=P1&currency=CNY&sort=-exposure", reader)
    first = refs(listed, "coverage-loans")[0]
    link = html_text.unescape(re.search(rf'<a href="(/coverage/loans/{first}\?[^"]+)"', listed)[1])  # type: ignore[index]
    assert {k: query(link).get(k) for k in kept} == {
        "borrower": "P1",
        "currency": "CNY",
        "sort": "-exposure",
        "page": None,
    }

    def back_of(html: str) -> str:
        return html_text.unescape(re.search(r'<a href="([^"]+)" data-testid="back-to-list"', html)[1])  # type: ignore[index]

    back = back_of(await page(client, link, reader))
    assert urlsplit(back).path == "/coverage/loans"
    assert {k: query(back).get(k) for k in kept} == {
        "borrower": "P1",
        "currency": "CNY",
        "sort": "-exposure",
        "page": None,
    }
    # From the list's second page, the way back is to the second page.
    assert query(back_of(await page(client, f"{link}&page=2", reader)))["page"] == "2"
    # A value the list would refuse does not break the loan's page: the way back is the plain list.
    odd = back_of(await page(client, f"/coverage/loans/{first}?flag=nonsense&page=3", reader))
    assert "flag" not in query(odd) and "page" not in query(odd)


async def test_the_coverage_filter_form_keeps_the_date_and_basis(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    reader = as_role(Role.AUDITOR)
    listed = await page(client, "/coverage/loans?as_of=2026-06-30&include_unperfected=true&sort=-exposure", reader)
    sent = query(submit(listed, "loan-filters", borrower="P2"))
    assert {k: v for k, v in sent.items() if v} == {
        "as_of": "2026-06-30",
        "include_unperfected": "true",
        "borrower": "P2",
        "sort": "-exposure",
    }


async def test_the_worklist_assets_sort_by_owner_value_and_ref(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    expected = {
        "asset": ["A1", "A2", "A3", "A9"],
        "-asset": ["A9", "A3", "A2", "A1"],
        "owner": ["A1", "A2", "A3", "A9"],  # P1's, then P2's; ties by asset ref
        "-owner": ["A3", "A9", "A1", "A2"],
        "-value": ["A1", "A3", "A2", "A9"],  # never valued: last either way
        "value": ["A2", "A3", "A1", "A9"],
        "-days_overdue": ["A9", "A1", "A2", "A3"],
        "days_overdue": ["A3", "A1", "A2", "A9"],
    }
    for order, assets in expected.items():
        html = await page(client, f"/worklist?as_of={AS_OF}&sort={order}", manager)
        assert refs(html, "assets-due") == assets, order
        column = order.lstrip("-")
        way = "descending" if order.startswith("-") else "ascending"
        assert re.search(
            rf'<th scope="col"[^>]*aria-sort="{way}"><a class="sort" href="[^"]+" data-sort="{column}"', html
        )
    assert (await client.get(f"/worklist?as_of={AS_OF}&sort=-owner_name", headers=manager)).status_code == 422


async def test_the_worklist_liens_sort_by_days_owner_value_and_ref(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    auditor = as_role(Role.AUDITOR)
    html = await page(client, f"/worklist?as_of={AS_OF}", auditor)
    assert refs(html, "liens-expiring") == ["E2", "E3", "E1"]  # soonest first, the one already past leading
    row = html.split('<tr data-ref="E2"', 1)[1].split("</tr>", 1)[0]
    assert "450,000.00" in row and "P2" in row and ">-30<" in row
    expected = {
        "-days_left": ["E1", "E3", "E2"],
        "lien": ["E1", "E2", "E3"],
        "-lien": ["E3", "E2", "E1"],
        "owner": ["E1", "E3", "E2"],
        "-owner": ["E2", "E1", "E3"],
        "-value": ["E1", "E2", "E3"],
        "value": ["E3", "E2", "E1"],
    }
    for order, liens in expected.items():
        listed = await page(client, f"/worklist?as_of={AS_OF}&lien_sort={order}", auditor)
        assert refs(listed, "liens-expiring") == liens, order
    # The download is the list in the page's order, with the asset's value.
    csv_link = re.search(r'href="([^"]+)" data-testid="liens-csv-link"', listed)
    assert csv_link is not None
    got = (await client.get(html_text.unescape(csv_link.group(1)), headers=auditor)).text.splitlines()
    assert [line.split(",")[0] for line in got[1:]] == ["E3", "E2", "E1"]
    assert got[0].endswith(",last_value,currency") and got[1].endswith(",300000.00,CNY")
    assert (await client.get("/worklist?lien_sort=holder", headers=auditor)).status_code == 422


async def test_each_worklist_heading_and_form_keeps_the_other_list_and_the_filters(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    auditor = as_role(Role.AUDITOR)
    start = f"/worklist?as_of={AS_OF}&within_days=90&reason=stale&sort=-value&lien_sort=owner"
    html = await page(client, start, auditor)
    assert refs(html, "assets-due") == ["A1", "A3", "A2"] and refs(html, "liens-expiring") == ["E1", "E3", "E2"]
    assets = heading_links(html, "assets-due")
    liens = heading_links(html, "liens-expiring")
    assert set(assets) == {"asset", "owner", "value", "days_overdue"}
    assert set(liens) == {"lien", "owner", "value", "days_left"}
    kept = {"as_of": AS_OF, "within_days": "90", "reason": "stale"}
    # An asset heading changes the assets' order only; a lien heading the liens' only.
    assert query(assets["value"]) == kept | {"sort": "value", "lien_sort": "owner"}
    assert query(assets["owner"]) == kept | {"sort": "owner", "lien_sort": "owner"}
    assert query(liens["owner"]) == kept | {"sort": "-value", "lien_sort": "-owner"}
    assert query(liens["days_left"]) == kept | {"sort": "-value"}  # the liens' own order needs no parameter
    followed = await page(client, liens["value"], auditor)
    assert refs(followed, "assets-due") == ["A1", "A3", "A2"] and refs(followed, "liens-expiring") == ["E1", "E2", "E3"]
    # The filter form changes the date, window, reason and the assets' order; the liens' order rides along.
    sent = query(submit(html, "worklist-filters", reason="", within_days="30"))
    assert sent == {"as_of": AS_OF, "within_days": "30", "reason": "", "sort": "-value", "lien_sort": "owner"}


async def test_verify_the_chain_keeps_the_audit_filters_and_an_actor_link_keeps_the_others(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    auditor = as_role(Role.AUDITOR)
    filtered = await page(client, "/audit?entity=lien&ref=E1", auditor)
    count = re.search(r'data-testid="audit-count">([^<]+)<', filtered)
    assert count is not None and count.group(1).startswith("Events 1\N{EN DASH}")
    verified = await page(client, submit(filtered, "/audit/verify"), auditor)
    assert 'data-testid="chain-report" data-ok="true"' in verified
    assert f'data-testid="audit-count">{count.group(1)}<' in verified
    assert set(re.findall(r'data-entity="(\w+)" data-ref="([^"]+)"', verified)) == {("lien", "E1")}
    actor = re.search(r'by <a href="([^"]+)">([^<]+)</a>', filtered)
    assert actor is not None
    assert query(html_text.unescape(actor.group(1))) == {"entity": "lien", "ref": "E1", "actor": actor.group(2)}


LIST_PAGES = (
    "/assets",
    "/coverage/loans",
    f"/worklist?as_of={AS_OF}",
    "/valuations",
    "/disposals",
    "/audit",
    "/overlaps",
    "/parties/P1",
    "/loans/L1",
)


async def test_every_heading_that_looks_sortable_sorts(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    """A heading drawn as a sort link opens the list marked as sorted by that column, and only headings drawn by the
    shared macro carry the sort look."""
    admin = as_role(Role.ADMIN)
    followed = 0
    for path in LIST_PAGES:
        html = await page(client, path, admin)
        for href, column in re.findall(r'<a class="sort" href="([^"]+)" data-sort="([^"]+)"', html):
            sorted_page = await page(client, html_text.unescape(href), admin)
            marked = re.findall(r'aria-sort="\w+"><a class="sort" href="[^"]+" data-sort="([^"]+)"', sorted_page)
            assert column in marked, f"{path}: the {column} heading opens a list not sorted by it"
            followed += 1
        # Any heading with an arrow or aria-sort is one of those links.
        assert len(re.findall(r"<th [^>]*aria-sort=", html)) == len(
            re.findall(r'aria-sort="\w+"><a class="sort"', html)
        )
    assert followed >= 4 + 4 + 4  # the loan coverage list and the worklist's two lists
