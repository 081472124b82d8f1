"""The lien page's registration buttons, the audit log and the search box over HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from registry.roles import Role
from registry.tables import AuditEvent
from tests.integration.factory import Book
from tests.integration.test_record_pages import book, hrefs

pytestmark = pytest.mark.integration

MANAGER, AUDITOR, CREDIT = Role.ASSET_MANAGER, Role.AUDITOR, Role.CREDIT_OFFICER
__all__ = ("book",)  # the fixture, shared


def move_buttons(html: str) -> list[str]:
    return re.findall(r'data-testid="move-(\w+)"', html)


# --- the lien page ----------------------------------------------------------------------------------------------


async def test_lien_page_shows_only_the_moves_its_status_allows_to_those_who_may_make_them(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    draft = await client.get("/liens/LN2", headers=as_role(MANAGER))
    assert draft.status_code == 200
    assert move_buttons(draft.text) == ["submitted"]
    assert 'data-testid="renew"' not in draft.text
    registered = await client.get("/liens/LN1", headers=as_role(MANAGER))
    assert move_buttons(registered.text) == ["released", "expired"]
    assert 'data-testid="renew"' in registered.text
    assert 'data-testid="registration-number">REG-2025-001<' in registered.text
    assert {"/assets/A1", "/parties/P2", "/loans/L1", "/parties/P1"} <= hrefs(registered.text)
    for role in (AUDITOR, CREDIT, Role.DISPOSAL_OFFICER):
        read_only = await client.get("/liens/LN1", headers=as_role(role))
        assert read_only.status_code == 200
        assert move_buttons(read_only.text) == [] and 'data-testid="lien-moves"' not in read_only.text


async def test_a_lien_is_submitted_registered_renewed_and_released_with_the_buttons(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    manager = as_role(MANAGER)
    r = await client.post("/liens/LN2/registration", data={"to": "submitted"}, headers=manager)
    assert r.status_code == 303 and r.headers["location"] == "/liens/LN2?done=submitted"
    page = await client.get("/liens/LN2", headers=manager)
    assert move_buttons(page.text) == ["registered", "rejected"]
    form = {
        "to": "registered",
        "registration_number": "REG-2026-77",
        "authority": "Dock Road Registry",
        "perfected_at": "2026-01-10T09:30",
        "expires_on": "2027-01-10",
    }
    r = await client.post("/liens/LN2/registration", data=form, headers=manager)
    assert r.status_code == 303
    lien = (await client.get("/api/liens/LN2", headers=manager)).json()
    assert lien["status"] == "registered" and lien["registration_number"] == "REG-2026-77"
    assert lien["perfected_at"].startswith("2026-01-10T09:30:00")
    r = await client.post("/liens/LN2/renewal", data={"expires_on": "2029-01-10"}, headers=manager)
    assert r.status_code == 303 and r.headers["location"] == "/liens/LN2?done=renewed"
    assert (await client.get("/api/liens/LN2", headers=manager)).json()["expires_on"] == "2029-01-10"
    r = await client.post("/liens/LN2/registration", data={"to": "released", "reason": "repaid"}, headers=manager)
    assert r.status_code == 303
    released = await client.get("/liens/LN2", headers=manager)
    assert 'data-status="released"' in released.text and 'data-testid="final"' in released.text
    assert move_buttons(released.text) == []


async def test_registering_without_a_number_is_refused_beside_the_number(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    manager = as_role(MANAGER)
    assert (await book.move("LN2", "submitted")).status_code == 200
    r = await client.post("/liens/LN2/registration", data={"to": "registered"}, headers=manager)
    assert r.status_code == 422
    error = re.search(r'id="registered-registration_number-error" data-field="registration_number">([^<]+)<', r.text)
    assert error and "registration number" in error.group(1)
    assert '<details class="action" data-move="registered" open>' in r.text
    assert (await client.get("/api/liens/LN2", headers=manager)).json()["status"] == "submitted"


async def test_a_move_the_status_no_longer_allows_is_explained_not_thrown(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    r = await client.post("/liens/LN2/registration", data={"to": "registered"}, headers=as_role(MANAGER))
    assert r.status_code == 409
    alert = re.search(r'data-testid="lien-alert">([^<]+)<', r.text)
    assert alert and alert.group(1) == "This lien is draft, so it cannot be registered; from here it can be submitted."
    renew = await client.post("/liens/LN2/renewal", data={"expires_on": "2030-01-01"}, headers=as_role(MANAGER))
    assert renew.status_code == 409 and "Only a registered lien can be renewed" in renew.text


async def test_only_asset_managers_and_admins_move_a_lien(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    for role in (CREDIT, AUDITOR, Role.DISPOSAL_OFFICER, Role.BIDDER):
        r = await client.post("/liens/LN2/registration", data={"to": "submitted"}, headers=as_role(role))
        assert r.status_code == 403
        r = await client.post("/liens/LN1/renewal", data={"expires_on": "2030-01-01"}, headers=as_role(role))
        assert r.status_code == 403
    assert (await client.get("/api/liens/LN2", headers=as_role(AUDITOR))).json()["status"] == "draft"


async def test_lien_page_lists_its_documents(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    files = {"file": ("filing.pdf", b"%PDF-1.4 the filing", "application/pdf")}
    data = {"entity": "lien", "entity_ref": "LN1"}
    up = await client.post("/api/documents", files=files, data=data, headers=as_role(MANAGER))
    assert up.status_code == 201, up.text
    html = (await client.get("/liens/LN1", headers=as_role(AUDITOR))).text
    assert f'href="/api/documents/{up.json()["id"]}/content">filing.pdf</a>' in html


# --- the audit log ----------------------------------------------------------------------------------------------


async def test_audit_log_filters_by_entity_ref_actor_and_dates_and_links_each_ref(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    auditor = as_role(AUDITOR)
    everything = await client.get("/audit", headers=auditor)
    assert everything.status_code == 200
    assert re.search(r'<a href="/audit"[^>]*>Audit log</a>', everything.text)  # in the navigation
    loan = await client.get("/audit?entity=loan&ref=L1", headers=auditor)
    refs = set(re.findall(r'data-entity="(\w+)" data-ref="([^"]+)"', loan.text))
    assert refs == {("loan", "L1")}
    assert 'href="/loans/L1"' in loan.text
    by_actor = await client.get("/audit?actor=asset_manager1", headers=auditor)
    entities = set(re.findall(r'data-entity="(\w+)"', by_actor.text))
    assert entities and entities <= {"party", "asset", "lien"}
    assert "No event matches." in (await client.get("/audit?from=2999-01-01", headers=auditor)).text
    today = await client.get("/audit?from=2000-01-01&to=2999-12-31", headers=auditor)
    every = len(re.findall(r'<article class="audit-event"', everything.text))
    assert every >= 10 and len(re.findall(r'<article class="audit-event"', today.text)) == every


async def test_audit_log_puts_before_and_after_side_by_side(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    r = await client.patch("/api/liens/LN1", json={"expires_on": "2031-05-01"}, headers=as_role(MANAGER))
    assert r.status_code == 200
    html = (await client.get("/audit?entity=lien&ref=LN1", headers=as_role(AUDITOR))).text
    changed = re.search(r'<tr class="changed" data-field="expires_on">(.*?)</tr>', html, re.S)
    assert changed
    cells = re.findall(r'<span class="wrap">([^<]*)</span>', changed.group(1))
    assert cells == ["—", "2031-05-01"]
    assert '<tr data-field="registration_number">' in html  # unchanged fields are shown, not marked


async def test_audit_log_pages_with_the_shared_pager_and_refuses_bad_dates_inline(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    auditor = as_role(AUDITOR)
    first = await client.get("/audit?entity=loan", headers=as_role(AUDITOR))
    total = (await client.get("/api/audit?entity=loan", headers=auditor)).json()["total"]
    for n in range(26 - total):
        await book.post("L1", "accrual", fees=f"{n + 1}.00")
    first = await client.get("/audit?entity=loan", headers=auditor)
    assert 'href="/audit?entity=loan&amp;page=2" rel="next"' in first.text
    second = await client.get("/audit?entity=loan&page=2", headers=auditor)
    assert len(re.findall(r'<article class="audit-event"', second.text)) == 1
    bad = await client.get("/audit?from=31/12/2026&to=2026-01-01", headers=auditor)
    assert bad.status_code == 422
    assert 'data-field="from">&#39;31/12/2026&#39; is not a date' in bad.text
    backwards = await client.get("/audit?from=2026-02-01&to=2026-01-01", headers=auditor)
    assert "the last day comes before the first" in backwards.text


async def test_verify_the_chain_reports_intact_then_the_first_broken_event(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    ok = await client.get("/audit/verify", headers=as_role(AUDITOR))
    assert ok.status_code == 200
    assert 'data-testid="chain-report" data-ok="true"' in ok.text and "The chain is intact" in ok.text
    await AuditEvent.update({AuditEvent.actor: "someone-else"}).where(AuditEvent.seq == 3)
    broken = await client.get("/audit/verify", headers=as_role(Role.ADMIN))
    assert 'data-ok="false"' in broken.text and "The chain is broken at event 3" in broken.text


@pytest.mark.parametrize("role", [CREDIT, MANAGER, Role.DISPOSAL_OFFICER, Role.BIDDER])
async def test_only_auditors_and_admins_read_the_audit_log(client: httpx.AsyncClient, as_role: Any, role: Role) -> None:
    assert (await client.get("/audit", headers=as_role(role))).status_code == 403
    assert (await client.get("/audit/verify", headers=as_role(role))).status_code == 403


# --- search -----------------------------------------------------------------------------------------------------


def found(html: str, kind: str) -> list[str]:
    table = re.search(rf'data-testid="hits-{kind}">(.*?)</table>', html, re.S)
    return re.findall(r'<tr data-ref="([^"]+)">', table.group(1)) if table else []


async def test_search_finds_records_by_ref_name_identifier_and_lien_holder(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    await book.asset("V1", owner="P1", kind="vehicle", identifiers={"vin": "LSVAB4BR0JN123456"})
    await book.asset("V2", owner="P1", kind="vehicle", identifiers={"vin": "WDB0000000000001"})
    await book.lien("X1", asset="A1", holder="Bank of Dock Road", external_claim="50000.00")
    reader = as_role(CREDIT)

    async def search(text: str) -> str:
        r = await client.get("/search", params={"q": text}, headers=reader)
        assert r.status_code == 200
        return r.text

    assert found(await search("harbour trading"), "parties") == ["P1"]
    assert found(await search("L1"), "loans") == ["L1"]
    assert found(await search("jn1234"), "assets") == ["V1"]
    assert found(await search("dock road"), "liens") == ["X1"]
    assert found(await search("dock road"), "assets") == ["A1"]  # its description
    assert found(await search("REG-2025"), "liens") == ["LN1"]
    # "vin" is a key of every vehicle's identifiers, not a value: it finds none of them.
    assert found(await search("vin"), "assets") == []
    html = await search("P1")
    assert 'href="/parties/P1"' in html


async def test_search_takes_percent_and_underscore_literally(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    await book.party("PCT", name="100%_Owned Ltd")
    await book.party("PLAIN", name="100 Owned Ltd")
    r = await client.get("/search", params={"q": "%_"}, headers=as_role(CREDIT))
    assert found(r.text, "parties") == ["PCT"]
    assert found((await client.get("/search?q=_", headers=as_role(CREDIT))).text, "parties") == ["PCT"]


async def test_identity_numbers_find_a_party_only_for_those_who_see_them(
    client: httpx.AsyncClient, as_role: Any, book: Book
) -> None:
    await book.party("P9", id_number="110101199003070011")
    assert found((await client.get("/search?q=19900307", headers=as_role(AUDITOR))).text, "parties") == ["P9"]
    assert found((await client.get("/search?q=19900307", headers=as_role(CREDIT))).text, "parties") == []


async def test_the_header_search_box_is_there_for_registry_readers_only(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    page = await client.get("/assets", headers=as_role(CREDIT))
    assert '<form class="header-search" method="get" action="/search" role="search">' in page.text
    bidder = await client.get("/public/auctions", headers=as_role(Role.BIDDER))
    assert bidder.status_code == 200 and "header-search" not in bidder.text
    empty = await client.get("/search", headers=as_role(CREDIT))
    assert empty.status_code == 200 and 'data-testid="search-count"' not in empty.text
