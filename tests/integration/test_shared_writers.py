"""The writers other packages call inside their own transaction (a disposal settlement): record_many,
post_entries, release_liens and set_asset_status. Each joins the caller's write transaction, so an
exception after it rolls everything back, the audit chain included."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from registry import audit, clock
from registry.audit import AuditEntry
from registry.db import write_transaction
from registry.errors import InvalidInputError, NotFoundError, StateConflictError
from registry.roles import Role
from registry.services.assets import set_asset_status
from registry.services.ledger import LedgerEntry, balances_for, post_entries
from registry.services.liens import release_liens
from registry.tables import Asset, AuditEvent, Lien, Loan, ParcelOverlap, Posting
from tests.conftest import ENGINE
from tests.integration.factory import Book
from tests.integration.test_parcels import rect

pytestmark = pytest.mark.integration


def _bench() -> ModuleType:
    """bench/ledger.py, whose book (bulk_loans, life_of) the speed test posts too."""
    spec = importlib.util.spec_from_file_location(
        "bench_ledger", Path(__file__).resolve().parents[2] / "bench" / "ledger.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench()

DAY = date(2026, 3, 1)


class Boom(Exception):
    """Raised by the outer transaction after the writer, to see that everything rolls back."""


async def _fail_after(work: Callable[[], Awaitable[object]]) -> None:
    async with write_transaction():
        await work()
        raise Boom


async def fails_after(work: Callable[[], Awaitable[object]]) -> None:
    """Run work in an outer write transaction that fails after it, as a settlement failing late would."""
    with pytest.raises(Boom):
        await _fail_after(work)


async def head() -> tuple[int, str] | None:
    last = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return (last["seq"], last["hash"]) if last else None


async def ids_of(table: Any, *refs: str) -> list[int]:
    rows = await table.select(table.id, table.ref).where(table.ref.is_in(list(refs)))
    by_ref = {r["ref"]: r["id"] for r in rows}
    return [by_ref[ref] for ref in refs]


@pytest.fixture
async def book(client: httpx.AsyncClient, as_role: Any) -> Book:
    b = Book(client, as_role)
    await b.party("P1")
    await b.loan("L1", principal="1000.00")
    await b.loan("L2", principal="500.00")
    return b


# --- record_many ------------------------------------------------------------------------------


async def test_record_many_chains_like_record(client: httpx.AsyncClient, book: Book) -> None:
    async with write_transaction():
        await audit.record("tester", "loan", "L1", "note", after={"n": 0})
        await audit.record_many(
            "tester", [AuditEntry("loan", f"L{i % 2 + 1}", "note", {"n": i - 1}, {"n": i}) for i in range(1, 1001)]
        )
        await audit.record("tester", "loan", "L2", "note", before={"n": 1000})
        await audit.record_many("tester", [])
    report = await audit.verify()
    assert report.ok, report
    events = await AuditEvent.select(AuditEvent.seq, AuditEvent.after).order_by(AuditEvent.seq)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-2]["after"] == '{"n":1000}'
    assert report.events == len(events) >= 1002


async def test_record_many_rolls_back_with_the_outer_transaction(book: Book) -> None:
    before = await head()
    await fails_after(
        lambda: audit.record_many("tester", [AuditEntry("loan", "L1", "note", after={"n": i}) for i in range(50)])
    )
    assert await head() == before
    assert (await audit.verify()).ok


# --- post_entries -----------------------------------------------------------------------------


async def test_post_entries_in_an_outer_transaction(book: Book) -> None:
    l1, l2 = await ids_of(Loan, "L1", "L2")
    seq_before = (await head() or (0, ""))[0]
    async with write_transaction():
        ids = await post_entries(
            [
                LedgerEntry(l2, "disposal_proceeds", {"principal": -20000, "fees": 0}, DAY, "lot 7, first lien"),
                LedgerEntry(l1, "disposal_proceeds", {"principal": -100000}, DAY, "lot 7"),
                LedgerEntry(l2, "disposal_proceeds", {"principal": -30000}, DAY, "lot 7, rest"),
            ],
            "disposal_officer1",
        )
    assert ids == sorted(ids)
    rows = {r["id"]: r for r in await Posting.select().where(Posting.id.is_in(ids))}
    assert [(rows[i]["loan"], rows[i]["principal"], rows[i]["memo"]) for i in ids] == [
        (l2, -20000, "lot 7, first lien"),
        (l1, -100000, "lot 7"),
        (l2, -30000, "lot 7, rest"),
    ]
    assert (await balances_for([l1, l2]))[l1]["principal"] == 0
    assert (await balances_for([l1, l2]))[l2]["principal"] == 0
    events = await AuditEvent.select().where(AuditEvent.seq > seq_before).order_by(AuditEvent.seq)
    assert [(e["entity"], e["entity_ref"], e["action"], e["actor"]) for e in events] == [
        ("loan", "L2", "posting:disposal_proceeds", "disposal_officer1"),
        ("loan", "L1", "posting:disposal_proceeds", "disposal_officer1"),
        ("loan", "L2", "posting:disposal_proceeds", "disposal_officer1"),
    ]
    assert f'"posting_id":{ids[0]}' in events[0]["after"]
    assert (await audit.verify()).ok


async def test_post_entries_checks_each_loan_cumulatively(book: Book) -> None:
    l1, l2 = await ids_of(Loan, "L1", "L2")
    with pytest.raises(InvalidInputError) as refused:
        await post_entries(
            [
                LedgerEntry(l2, "repayment", {"principal": -40000}, DAY, ""),
                LedgerEntry(l1, "repayment", {"principal": -100000}, DAY, ""),
                LedgerEntry(l2, "repayment", {"principal": -20000, "interest": -1}, DAY, ""),
            ],
            "credit_officer1",
        )
    assert [field for field, _ in refused.value.errors] == ["entries[2].principal", "entries[2].interest"]
    assert "outstanding 100.00" in refused.value.errors[0][1]
    assert await Posting.count().where(Posting.kind == "repayment") == 0


async def test_post_entries_refuses_unknown_loans_and_components(book: Book) -> None:
    (l1,) = await ids_of(Loan, "L1")
    with pytest.raises(NotFoundError) as missing:
        await post_entries([LedgerEntry(l1, "repayment", {}, DAY, ""), LedgerEntry(999_999, "x", {}, DAY, "")], "me")
    assert missing.value.field == "entries[1].loan_id"
    with pytest.raises(InvalidInputError) as refused:
        await post_entries([LedgerEntry(l1, "repayment", {"capital": -1}, DAY, "")], "me")
    assert refused.value.errors[0][0] == "entries[0].deltas"


async def test_post_entries_rolls_back_with_the_outer_transaction(book: Book) -> None:
    l1, l2 = await ids_of(Loan, "L1", "L2")
    before, postings = await head(), await Posting.count()

    async def two_calls() -> None:
        await post_entries([LedgerEntry(l1, "accrual", {"interest": 500}, DAY, "")] * 3, "credit_officer1")
        await post_entries([LedgerEntry(l2, "repayment", {"principal": -100}, DAY, "")], "credit_officer1")

    await fails_after(two_calls)
    assert await Posting.count() == postings
    assert await head() == before


def count_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent to PostgreSQL from here on (asyncpg's connection, under Piccolo's pool)."""
    import asyncpg

    sent: list[str] = []
    for method in ("execute", "fetch", "fetchrow", "fetchval", "executemany", "copy_records_to_table"):
        original = getattr(asyncpg.Connection, method)

        async def counted(self: Any, *args: Any, _original: Any = original, _name: str = method, **kwargs: Any) -> Any:
            sent.append(_name)
            return await _original(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, method, counted)
    return sent


@pytest.mark.skipif(ENGINE != "postgres", reason="counts PostgreSQL statements; SQLite batches by its parameter limit")
async def test_post_entries_is_set_based(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    few, many = await bench.bulk_loans("FEW", 250), await bench.bulk_loans("MANY", 5000)
    sent = count_statements(monkeypatch)
    async with write_transaction():
        await post_entries(bench.life_of(few), "credit_officer1")
    for_few = len(sent)
    sent.clear()
    started = time.perf_counter()
    async with write_transaction():
        ids = await post_entries(bench.life_of(many), "credit_officer1")
    seconds = time.perf_counter() - started
    # As many statements for 20,000 entries on 5,000 loans as for 1,000 on 250: nothing is done per loan or entry.
    assert len(sent) == for_few, sent
    assert len(ids) == 20_000
    assert (await balances_for(many[:1]))[many[0]] == {"principal": 950_000, "interest": 0, "penalty": 0, "fees": 0}
    assert (await audit.verify()).ok
    # About 0.5 s on a quiet machine (bench/ledger.py); a loose bound, since the test machine is often busy.
    assert seconds < 5, f"20,000 entries took {seconds:.2f} s"


# --- release_liens ----------------------------------------------------------------------------


async def test_release_liens_moves_each_through_the_state_machine(book: Book) -> None:
    await book.asset("A1")
    await book.lien("M1", loans=["L1"])
    await book.lien("M2", loans=["L2"])
    await book.register("M1", clock.now())
    await book.register("M2", clock.now())
    m1, m2 = await ids_of(Lien, "M1", "M2")
    seq_before = (await head() or (0, ""))[0]
    async with write_transaction():
        await release_liens([m2, m1, m2], "disposal_officer1", memo="settled: case D-1")
    assert {r["ref"]: r["status"] for r in await Lien.select(Lien.ref, Lien.status)} == {
        "M1": "released",
        "M2": "released",
    }
    events = await AuditEvent.select().where(AuditEvent.seq > seq_before).order_by(AuditEvent.seq)
    assert [(e["entity_ref"], e["action"]) for e in events] == [
        ("M2", "registration:released"),
        ("M1", "registration:released"),
    ]
    assert '"memo":"settled: case D-1"' in events[0]["after"]
    assert '"status":"registered"' in events[0]["before"]
    assert (await audit.verify()).ok


async def test_release_liens_refuses_a_lien_that_cannot_be_released(book: Book) -> None:
    await book.asset("A1")
    await book.lien("M1", loans=["L1"])
    await book.lien("DRAFT", loans=["L2"])
    await book.register("M1", clock.now())
    m1, draft = await ids_of(Lien, "M1", "DRAFT")
    before = await head()
    with pytest.raises(StateConflictError) as refused:
        await release_liens([m1, draft], "disposal_officer1", memo="settled")
    assert refused.value.current == "draft"
    assert refused.value.allowed == ["submitted"]
    assert "DRAFT" in refused.value.detail
    assert {r["ref"]: r["status"] for r in await Lien.select(Lien.ref, Lien.status)} == {
        "M1": "registered",
        "DRAFT": "draft",
    }
    assert await head() == before


async def test_release_liens_rolls_back_with_the_outer_transaction(book: Book) -> None:
    await book.asset("A1")
    await book.lien("M1", loans=["L1"])
    await book.register("M1", clock.now())
    (m1,) = await ids_of(Lien, "M1")
    before = await head()
    await fails_after(lambda: release_liens([m1], "disposal_officer1", memo="settled"))
    assert (await Lien.select(Lien.status).first())["status"] == "registered"
    assert await head() == before


# --- set_asset_status -------------------------------------------------------------------------


async def test_set_asset_status_returns_the_previous_ones_and_refreshes_overlaps(book: Book) -> None:
    await book.asset("HOUSE", geometry=rect(0, 0, 100, 100))
    await book.asset("YARD", geometry=rect(50, 0, 150, 100))
    await book.asset("CAR", kind="vehicle", status="seized")
    assert await ParcelOverlap.count() == 1
    house, car = await ids_of(Asset, "HOUSE", "CAR")
    seq_before = (await head() or (0, ""))[0]
    async with write_transaction():
        previous = await set_asset_status([house, car], "disposed", "disposal_officer1", memo="sold at auction")
    assert previous == {house: "active", car: "seized"}
    statuses = {r["ref"]: r["status"] for r in await Asset.select(Asset.ref, Asset.status)}
    assert statuses == {"HOUSE": "disposed", "YARD": "active", "CAR": "disposed"}
    # A disposed house pledges nothing, so its parcel no longer overlaps the yard's.
    assert await ParcelOverlap.count() == 0
    events = await AuditEvent.select().where(AuditEvent.seq > seq_before).order_by(AuditEvent.seq)
    assert [(e["entity_ref"], e["action"]) for e in events] == [
        ("HOUSE", "status"),
        ("CAR", "status"),
        ("HOUSE", "parcel_overlaps"),
    ]
    assert events[0]["before"] == '{"status":"active"}'
    assert events[0]["after"] == '{"memo":"sold at auction","status":"disposed"}'
    assert (await audit.verify()).ok


async def test_set_asset_status_refuses_an_unknown_status_or_asset(book: Book) -> None:
    await book.asset("CAR", kind="vehicle")
    (car,) = await ids_of(Asset, "CAR")
    with pytest.raises(InvalidInputError):
        await set_asset_status([car], "sold", "me", memo="")
    with pytest.raises(NotFoundError):
        await set_asset_status([car, 999_999], "disposed", "me", memo="")
    assert (await Asset.select(Asset.status).first())["status"] == "active"


async def test_set_asset_status_rolls_back_with_the_outer_transaction(book: Book) -> None:
    await book.asset("HOUSE", geometry=rect(0, 0, 100, 100))
    await book.asset("YARD", geometry=rect(50, 0, 150, 100))
    (house,) = await ids_of(Asset, "HOUSE")
    before = await head()
    await fails_after(lambda: set_asset_status([house], "taken_in_lieu", "disposal_officer1", memo="in lieu"))
    assert {r["status"] for r in await Asset.select(Asset.status)} == {"active"}
    assert await ParcelOverlap.count() == 1
    assert await head() == before


async def test_the_api_paths_share_the_writers(client: httpx.AsyncClient, as_role: Any, book: Book) -> None:
    # One rule for "no component below zero", with the plain field names the API has always used.
    r = await client.post(
        "/api/loans/L2/postings",
        json={"kind": "repayment", "value_date": "2026-03-01", "principal": "500.01"},
        headers=as_role(Role.CREDIT_OFFICER),
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["principal"]
