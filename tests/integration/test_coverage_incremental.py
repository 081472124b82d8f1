"""Coverage after a change is patched, not read and computed whole, and says exactly what a whole read says.

On the book of test_coverage_scenarios (through the API, on whichever engine the run uses): every kind of change
the registry makes goes through its own endpoint; after each, the coverage views are read twice: first from the
patched cache (the book is not read again: the read is counted), then after the cache is emptied, from a whole
read. The two must be the same, field for field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from registry.roles import Role
from tests.integration import test_coverage_scenarios as scenarios
from tests.integration.counting import count_calls
from tests.integration.factory import Book
from tests.integration.test_coverage_scenarios import AS_OF, _square

pytestmark = pytest.mark.integration

book = scenarios.book  # the same book, built through the API
LOANS = ("L1", "L2", "L3", "L4", "L5")


async def _views(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    views: dict[str, Any] = {}
    for name, url in (
        ("summary", f"/api/coverage/summary?as_of={AS_OF}"),
        ("loans", f"/api/coverage/loans?as_of={AS_OF}&page=1&page_size=50"),
        ("borrowers", f"/api/coverage/borrowers?as_of={AS_OF}&page=1&page_size=50"),
        *((loan, f"/api/coverage/loans/{loan}?as_of={AS_OF}") for loan in LOANS),
    ):
        r = await client.get(url, headers=headers)
        views[name] = r.json() if r.status_code == 200 else r.status_code
    return views


async def test_every_change_is_patched_and_equals_a_whole_read(client, as_role, book: Book, monkeypatch) -> None:
    from valuation.services import coverage_runs as service

    reads = count_calls(monkeypatch, service, "book_from_database")
    service.BOOKS.clear()
    service.RESULTS.clear()
    credit, manager, admin = as_role(Role.CREDIT_OFFICER), as_role(Role.ASSET_MANAGER), as_role(Role.ADMIN)
    await _views(client, credit)
    assert len(reads) == 1

    async def patch(url: str, body: dict[str, Any]) -> None:
        r = await client.patch(url, headers=manager, json=body)
        assert r.status_code == 200, r.text

    changes = [
        ("a repayment", lambda: book.post("L2", "repayment", principal="300.00")),
        ("a new loan", lambda: book.loan("L5", "P2", principal="250.00")),
        ("a valuation approved", lambda: book.valuation("A2", "3000.00", admin, valued_on="2026-09-30")),
        ("a lien for two loans", lambda: book.lien("M5", asset="A3", loans=["L1", "L5"])),
        ("a draft lien's loans", lambda: patch("/api/liens/M5", {"loan_refs": ["L5", "L2"]})),
        ("its registration", lambda: book.register("M5", datetime(2026, 2, 1, 2, 0, tzinfo=UTC))),
        ("a parcel moved onto another", lambda: patch("/api/assets/A2", {"geometry": _square(121.0005, 31.0)})),
        ("an asset seized", lambda: patch("/api/assets/A1", {"status": "seized"})),
        ("a lien released", lambda: book.move("M4", "released")),
    ]
    for what, make in changes:
        await make()
        before = len(reads)
        patched = await _views(client, credit)
        assert len(reads) == before, f"{what}: the book was read whole"
        service.BOOKS.clear()
        service.RESULTS.clear()
        whole = await _views(client, credit)
        assert len(reads) == before + 1
        assert patched == whole, what
    # The changes did move coverage: the patch is not a stale copy of the first answer.
    assert patched["L2"]["loan"]["exposure"] == "700.00"
    assert patched["L5"]["loan"]["reachable_value"] != "0.00"
    assert patched["L1"]["possible_double_pledge"] is True


async def test_every_parameter_set_read_before_a_change_is_patched_after_it(
    client, as_role, book: Book, monkeypatch
) -> None:
    """The home page reads coverage as of today and as of the day before the last revaluation, the coverage page
    as of the officer's day: each set of parameters read before a change is patched after it, from the older
    book it was cached with, not computed whole (which takes seconds on a real book)."""
    from valuation.services import coverage_runs as service

    computed = count_calls(monkeypatch, service, "engine")
    service.BOOKS.clear()
    service.RESULTS.clear()
    credit = as_role(Role.CREDIT_OFFICER)
    days = (AS_OF, "2026-06-30")

    async def summaries() -> list[Any]:
        out = []
        for day in days:
            r = await client.get(f"/api/coverage/summary?as_of={day}", headers=credit)
            assert r.status_code == 200, r.text
            out.append(r.json())
        return out

    first = await summaries()
    assert len(computed) == 2  # each day computed whole once
    await book.post("L2", "repayment", principal="300.00")
    patched = await summaries()
    assert len(computed) == 2, "a day read before the change was computed whole after it"
    service.BOOKS.clear()
    service.RESULTS.clear()
    assert patched == await summaries()
    assert patched[0] != first[0]  # the repayment moved the figures: the patch is not the stale answer


async def test_a_version_from_another_chain_is_never_patched(client, as_role, book: Book) -> None:
    """A cached book names its version by the head's seq and hash; events after that seq in a chain whose event
    at the seq has another hash (a database restored or replaced under the process) are not its changes."""
    from valuation import coverage_changes
    from valuation.services.coverage_runs import book_version

    head = await book_version()
    await book.post("L2", "repayment", principal="100.00")
    changes = await coverage_changes.changes_since(head)
    assert changes is not None and changes.touched.loans
    assert await coverage_changes.changes_since((head[0], "0" * len(head[1]))) is None


async def test_a_refusal_is_kept_for_its_version_and_a_change_patches_the_book_not_reads_it(
    client, as_role, book: Book, monkeypatch
) -> None:
    """The home page asks for coverage without exchange rates on every view; on a book that needs them the engine
    refuses, which on a real book takes a second or more. The refusal is kept for the book's version (asked again,
    the engine does not run), and after a change the book is patched from the one cached with the refusal (no
    whole read), the engine run again on it: a change can end the refusal, so it is not assumed to hold."""
    from valuation.services import coverage_runs as service

    # A USD loan secured on an asset valued in CNY: the coverage needs a CNY/USD rate.
    await book.lien("M9", asset="A3", loans=["L4"], currency="USD")
    await book.register("M9", datetime(2026, 1, 7, 2, 0, tzinfo=UTC))
    reads = count_calls(monkeypatch, service, "book_from_database")
    computed = count_calls(monkeypatch, service, "engine")
    service.BOOKS.clear()
    service.RESULTS.clear()
    service.REFUSED.clear()
    credit = as_role(Role.CREDIT_OFFICER)
    url = f"/api/coverage/summary?as_of={AS_OF}"
    for _ in range(2):
        r = await client.get(url, headers=credit)
        assert r.status_code == 422, r.text
        assert r.json().get("missing_pairs") == [{"from": "CNY", "to": "USD"}], r.text
    assert (reads, computed) == ([1], [1])  # refused once, the second answer from the kept refusal
    # The change that ends the refusal: the USD lien released, so no CNY value secures a USD loan any more.
    r = await book.move("M9", "released")
    assert r.status_code == 200, r.text
    r = await client.get(url, headers=credit)
    assert r.status_code == 200, r.text
    assert (reads, computed) == ([1], [1, 1])  # the book patched, not read again; the engine run on it
    patched = r.json()
    service.BOOKS.clear()
    service.RESULTS.clear()
    service.REFUSED.clear()
    r = await client.get(url, headers=credit)
    assert r.json() == patched  # the same as a whole read
