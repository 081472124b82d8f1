"""Coverage reads the PostgreSQL book in one exported snapshot (issue 13, defect 16): a write committed while
the tables are being read on several connections is either wholly in the book or not at all."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import polars as pl
import pytest

from app import book_files
from registry.bulk.pipeline import import_book
from tests.conftest import ENGINE
from tests.integration.books import small
from valuation import coverage_postgres
from valuation.coverage import BookFrames
from valuation.coverage_sources import book_from_database

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "postgres", reason="exported snapshots are PostgreSQL's; SQLite reads one file"),
]


def _frames(book: BookFrames) -> dict[str, pl.DataFrame]:
    return {name: getattr(book, name).collect() for name in book.__slots__}


async def _write(uri: str) -> None:
    """A change touching two of the tables the book is read from, committed at once."""
    connection = await asyncpg.connect(uri)
    try:
        async with connection.transaction():
            await connection.execute("UPDATE posting SET principal = principal + 100")
            await connection.execute("UPDATE loan SET status = 'settled' WHERE ref = 'L1'")
    finally:
        await connection.close()


async def test_a_write_between_the_reads_is_not_seen(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    before = _frames(await anyio.to_thread.run_sync(book_from_database))

    real_read, lock, written = coverage_postgres._read, threading.Lock(), threading.Event()

    def write_first(query: str, uri: str, before_queries: Any = ()) -> pl.DataFrame:
        # The first read commits the write before it reads; the other readers wait for it. So every table is
        # read after the write: only the snapshot taken before the reads keeps it out.
        with lock:
            if not written.is_set():
                asyncio.run(_write(uri))
                written.set()
        return real_read(query, uri, before_queries)

    monkeypatch.setattr(coverage_postgres, "_read", write_first)
    during = _frames(await anyio.to_thread.run_sync(book_from_database))
    assert written.is_set()
    for name, frame in before.items():
        assert frame.equals(during[name]), f"{name} changed within one read of the book"

    monkeypatch.setattr(coverage_postgres, "_read", real_read)
    after = _frames(await anyio.to_thread.run_sync(book_from_database))
    assert not after["loans"].equals(before["loans"])  # the write did land; the next read sees all of it
    old = before["loans"].filter(pl.col("loan_id") == "L1").to_dicts()[0]
    new = after["loans"].filter(pl.col("loan_id") == "L1").to_dicts()[0]
    assert (new["status"], new["principal"] > old["principal"]) == ("settled", True)
