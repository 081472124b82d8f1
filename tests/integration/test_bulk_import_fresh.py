"""A first import into empty tables COPYs straight into them (PostgreSQL): it must leave exactly what the
staged upsert leaves, put back every key, index and foreign key, and stay all or nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import book_files
from registry import clock
from registry.bulk.database import BulkDb
from registry.bulk.pipeline import import_book
from registry.tables import AuditEvent, Lien, Loan, Party, Posting
from tests.conftest import ENGINE
from tests.integration.books import small
from tests.integration.conftest import empty_tables
from valuation.tables import Valuation

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "postgres", reason="the COPY path is PostgreSQL's; SQLite always upserts"),
]

# Every column of every table the import writes, with ids replaced by the refs they point at.
SNAPSHOT = {
    "party": "SELECT ref, name, kind, id_number, status, created_at FROM party",
    "loan": """SELECT l.ref, p.ref, l.currency, l.status, l.classification, l.interest_rate, l.maturity, l.created_at
               FROM loan l JOIN party p ON p.id = l.borrower""",
    "posting": """SELECT l.ref, x.kind, x.principal, x.interest, x.penalty, x.fees, x.value_date, x.memo, x.reverses,
                         x.posted_by, x.posted_at FROM posting x JOIN loan l ON l.id = x.loan""",
    "asset": """SELECT a.ref, a.kind, p.ref, a.description, a.address, a.identifiers, a.geometry, a.status,
                       a.created_at FROM asset a JOIN party p ON p.id = a.owner""",
    "lien": """SELECT l.ref, a.ref, l.kind, l.holder, l.currency, l.cap, l.external_claim, l.authority,
                      l.registration_number, l.status, l.perfected_at, l.expires_on, l.created_at
               FROM lien l JOIN asset a ON a.id = l.asset""",
    "lien_loan": """SELECT l.ref, n.ref FROM lien_loan x JOIN lien l ON l.id = x.lien JOIN loan n ON n.id = x.loan""",
    "valuation": """SELECT a.ref, v.valued_on, v.market_value, v.forced_sale_value, v.currency, v.method, v.appraiser,
                           v.status, v.submitted_by, v.submitted_at, v.decided_by, v.decided_at, v.reason
                    FROM valuation v JOIN asset a ON a.id = v.asset""",
    "policy": "SELECT kind, haircut, revaluation_days, max_ltv FROM policy",
}
CATALOG = """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE connamespace = 'public'::regnamespace
             UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"""


async def _rows(sql: str) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in await Party.raw(sql))


async def _snapshot() -> dict[str, list[tuple[str, ...]]]:
    return {table: await _rows(sql) for table, sql in SNAPSHOT.items()}


@pytest.fixture
def fixed_clock():
    clock.set_clock(lambda: datetime(2026, 11, 20, 8, 30, 15, 250000, tzinfo=UTC))
    yield
    clock.set_clock(None)


@pytest.fixture
def copies(monkeypatch) -> list[str]:
    """The tables the import COPYs into."""
    seen: list[str] = []
    original = BulkDb.copy_frame

    async def spy(self, table, frame):
        seen.append(table)
        return await original(self, table, frame)

    monkeypatch.setattr(BulkDb, "copy_frame", spy)
    return seen


async def test_copy_into_empty_tables_leaves_what_the_upsert_leaves(
    client, tmp_path: Path, monkeypatch, fixed_clock, copies
) -> None:
    book = small.write(tmp_path / "book")
    catalog = await _rows(CATALOG)
    copied = (await import_book(book, book_files(), "importer")).files
    assert set(copies) == {"party", "loan", "posting", "asset", "lien", "lien_loan", "policy", "valuation"}
    by_copy = await _snapshot()
    assert await _rows(CATALOG) == catalog  # every key, index and foreign key is back, as it was
    await empty_tables()

    async def no_copy(*_args, **_kwargs):
        return None

    for f in book_files():
        monkeypatch.setattr(type(f), "load_fresh", no_copy)
    upserted = (await import_book(book, book_files(), "importer")).files
    assert copied == upserted
    assert by_copy == await _snapshot()
    assert all(by_copy.values()), "every table got rows"


async def test_sequences_go_on_after_the_copied_rows(client, tmp_path: Path, fixed_clock) -> None:
    await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    for table in ("party", "loan", "posting", "asset", "lien", "lien_loan", "policy", "valuation"):
        highest = (await Party.raw(f"SELECT max(id) AS m FROM {table}"))[0]["m"]
        following = (await Party.raw(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS n"))[0]["n"]
        assert following > highest, table
    # A later import of more rows (the upsert path now: the tables are not empty) numbers them after.
    more = {
        "parties": "party_id,name,kind\nP7,Later Party,company\n",
        "loans": "loan_id,borrower_id,currency,principal,interest,penalty,fees,status\nL7,P7,CNY,5.00,0,0,0,overdue\n",
    }
    result = await import_book(small.write(tmp_path / "more", more), book_files(), "importer")
    assert result.files["loans"]["written"] == 1 and await Loan.count() == 5


async def test_a_copy_that_fails_leaves_the_empty_database_as_it_was(client, tmp_path: Path, monkeypatch) -> None:
    from registry.bulk.lien_loans import LienLoansFile

    catalog = await _rows(CATALOG)

    async def crash(*_args, **_kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(LienLoansFile, "load_fresh", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    counts = [await t.count() for t in (Party, Loan, Posting, Lien, Valuation, AuditEvent)]
    assert counts == [0, 0, 0, 0, 0, 0]
    assert await _rows(CATALOG) == catalog
    monkeypatch.undo()
    await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    assert await Loan.count() == 4


async def test_the_rebuilt_keys_refuse_what_they_refused_before(client, tmp_path: Path) -> None:
    await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    with pytest.raises(Exception, match=r"unique|duplicate"):
        await Party.raw(
            "INSERT INTO party (ref, name, kind, status, created_at) VALUES ('P1', 'x', 'company', 'normal', now())"
        )
    with pytest.raises(Exception, match="foreign key"):
        await Party.raw("UPDATE loan SET borrower = -1 WHERE ref = 'L1'")


async def test_a_copy_refused_by_the_database_fails_the_import_later_and_writes_nothing(
    client, tmp_path: Path, monkeypatch
) -> None:
    """A COPY runs on while the next file is prepared: its error surfaces at the next statement, and still
    rolls everything back."""
    import polars as pl

    from registry.bulk.collateral import LiensFile

    async def bad_copy(self, db, frame, now, actor):
        await db.copy_frame("lien", pl.DataFrame({"id": ["not a number"]}))
        return {"written": 1}

    monkeypatch.setattr(LiensFile, "load_fresh", bad_copy)
    with pytest.raises(Exception, match="invalid input syntax"):
        await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    counts = [await t.count() for t in (Party, Loan, Posting, Lien, Valuation, AuditEvent)]
    assert counts == [0, 0, 0, 0, 0, 0]


async def test_a_reference_error_in_a_late_file_refuses_after_early_copies_and_writes_nothing(
    client, tmp_path: Path, copies
) -> None:
    """Files are COPYed as soon as they are checked while the book is clean so far; a later file's error still
    refuses the whole book, every error listed, nothing written."""
    from registry.bulk.pipeline import ImportRefused

    catalog = await _rows(CATALOG)
    files = dict(small.FILES)
    files["lien_loans"] = files["lien_loans"] + "M1,L99\n"
    with pytest.raises(ImportRefused) as refused:
        await import_book(small.write(tmp_path / "book", files), book_files(), "importer")
    assert [(f, c, why) for f, _, c, why in refused.value.errors.iter_rows()] == [
        ("lien_loans", "loan_id", "no loans row with ref L99")
    ]
    assert {"party", "loan", "asset", "lien"} <= set(copies)  # written early, then rolled back
    counts = [await t.count() for t in (Party, Loan, Posting, Lien, Valuation, AuditEvent)]
    assert counts == [0, 0, 0, 0, 0, 0]
    assert await _rows(CATALOG) == catalog
