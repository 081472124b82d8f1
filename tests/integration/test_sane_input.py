"""Dates far outside any loan's life and characters that hide or reorder text are refused, by the API and
the import alike (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import book_files
from registry import clock
from registry.bulk.pipeline import ImportRefused, import_book
from registry.tables import AuditEvent
from tests.integration.books import small
from tests.integration.factory import Book

pytestmark = pytest.mark.integration


@pytest.fixture
async def book(client, as_role) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", "P1", principal="1000.00")
    await b.asset("A1")
    await b.lien("M1")
    return b


def _refused(r, field: str) -> None:
    assert r.status_code == 422, r.text
    assert any(e["field"] == field for e in r.json()["errors"]), r.json()


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
async def test_dates_outside_the_sane_range_are_422_naming_the_field(client, book: Book, day: str) -> None:
    events = await AuditEvent.count()
    valuation = {
        "asset_ref": "A1",
        "valued_on": day,
        "market_value": "1200.00",
        "currency": "CNY",
        "method": "market_comparison",
        "appraiser": "Shanghai Appraisal Co.",
    }
    _refused(await client.post("/api/valuations", json=valuation, headers=book.manager), "valued_on")
    posting = {"kind": "accrual", "interest": "1.00", "value_date": day}
    _refused(await client.post("/api/loans/L1/postings", json=posting, headers=book.credit), "value_date")
    _refused(await client.patch("/api/liens/M1", json={"expires_on": day}, headers=book.manager), "expires_on")
    lien = {"ref": "M2", "asset_ref": "A1", "kind": "mortgage", "currency": "CNY", "holder": "own"}
    _refused(
        await client.post("/api/liens", json={**lien, "loan_refs": ["L1"], "expires_on": day}, headers=book.manager),
        "expires_on",
    )
    _refused(await client.patch("/api/loans/L1", json={"maturity": day}, headers=book.credit), "maturity")
    loan = {"ref": "L2", "borrower_ref": "P1", "currency": "CNY", "maturity": day}
    _refused(await client.post("/api/loans", json=loan, headers=book.credit), "maturity")
    move = {"to": "submitted", "expires_on": day}
    _refused(await client.post("/api/liens/M1/registration", json=move, headers=book.manager), "expires_on")
    assert await AuditEvent.count() == events


@pytest.mark.parametrize("bad", ["\u202e", "\u202a", "\u2066", "\u2069", "\x00", "\x07", "\x1b", "\x0b"])
async def test_hidden_characters_in_names_and_descriptions_are_422(client, book: Book, bad: str) -> None:
    _refused(await client.patch("/api/parties/P1", json={"name": f"Acme{bad}Co"}, headers=book.manager), "name")
    party = {"ref": "P9", "name": f"evil{bad}txt.exe", "kind": "company"}
    _refused(await client.post("/api/parties", json=party, headers=book.manager), "name")
    _refused(
        await client.patch("/api/assets/A1", json={"description": f"floor{bad}12"}, headers=book.manager),
        "description",
    )
    asset = {"ref": "A9", "kind": "equipment", "owner_ref": "P1", "address": f"a{bad}b"}
    _refused(await client.post("/api/assets", json=asset, headers=book.manager), "address")
    lien = {"ref": "M9", "asset_ref": "A1", "kind": "mortgage", "currency": "CNY", "holder": f"Bank{bad}X"}
    _refused(await client.post("/api/liens", json={**lien, "external_claim": "1.00"}, headers=book.manager), "holder")


async def test_tabs_and_line_breaks_are_still_taken(client, book: Book) -> None:
    r = await client.patch("/api/assets/A1", json={"description": "line one\r\nline two\tcolumn"}, headers=book.manager)
    assert r.status_code == 200, r.text


async def test_import_refuses_what_the_api_refuses(client, tmp_path: Path) -> None:
    today = clock.today()
    files = dict(small.FILES)
    files["parties"] = small.FILES["parties"] + "P4,Evil\u202eCo,company\n"
    files["valuations"] = (
        small.FILES["valuations"] + f"A3,{today.replace(year=today.year + 1)},1.00,CNY,cost,approved\n"
    )
    files["liens"] = small.FILES["liens"] + "M6,A3,mortgage,Other Bank,registered,9999-12-31T00:00:00Z,,1.00\n"
    with pytest.raises(ImportRefused) as refused:
        await import_book(small.write(tmp_path / "book", files), book_files(), "importer")
    errors = {(f, r, col): why for f, r, col, why in refused.value.errors.iter_rows()}
    assert "control or bidirectional" in errors[("parties", 4, "name")]
    assert "in the future" in errors[("valuations", 5, "valued_on")]
    assert "outside 1900-01-01..2999-12-31" in errors[("liens", 6, "perfected_at")]
