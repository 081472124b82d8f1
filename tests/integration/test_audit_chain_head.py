"""PostgreSQL: the audit chain's head is read in one call that first takes the chain's lock (audit_chain_head, the
migration of 2026-12-02T18:00). The read must see the writer that held the lock before: a read taken in the calling
statement's snapshot would miss it, and two writers would then append the same seq."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import asyncpg
import pytest

from registry import audit
from registry.db import is_postgres

pytestmark = [pytest.mark.integration]


def _connect() -> asyncpg.Connection:
    return asyncpg.connect(os.environ["DATABASE_URL"])


async def _append(connection: asyncpg.Connection, seq: int, digest: str) -> None:
    await connection.execute(
        "INSERT INTO audit_event (seq, at, actor, entity, entity_ref, action, prev_hash, hash, hash_version) "
        "VALUES ($1, $2, 'test', 'party', 'P1', 'create', $3, $4, 2)",
        seq,
        datetime.now(UTC),
        "0" * 64,
        digest,
    )


async def test_the_head_is_read_after_the_lock_and_sees_the_writer_before_it(client) -> None:
    if not is_postgres():
        pytest.skip("SQLite's immediate transaction orders the chain's writers; no function there")
    first, second, outsider = await _connect(), await _connect(), await _connect()
    try:
        await first.execute("BEGIN")
        head = await first.fetchrow("SELECT seq, hash FROM audit_chain_head()")
        assert (head["seq"], head["hash"]) == (None, None)  # an empty chain
        # The lock it holds is the chain's, by the number the code names.
        assert not await outsider.fetchval("SELECT pg_try_advisory_lock($1)", audit.CHAIN_LOCK)
        async with second.transaction():
            waiting = asyncio.create_task(second.fetchrow("SELECT seq, hash FROM audit_chain_head()"))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the second writer waits for the first
            await _append(first, 1, "a" * 64)
            await first.execute("COMMIT")
            later = await asyncio.wait_for(waiting, 10)
            assert (later["seq"], later["hash"]) == (1, "a" * 64)
    finally:
        for connection in (first, second, outsider):
            await connection.close()
