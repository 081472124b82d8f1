"""Operations on PostgreSQL (issue 13): `collateral backup` through pg_dump, and the request pool's size and
statement timeout from the environment."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import pytest

from app import book_files
from registry import backup
from registry.bulk.pipeline import import_book
from registry.config import get_settings
from registry.db import no_statement_timeout, pool_options, write_transaction
from registry.tables import AuditEvent
from tests.conftest import ENGINE
from tests.integration.books import small

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "postgres", reason="pg_dump, the pool and its timeout are PostgreSQL's"),
]


@pytest.mark.skipif(shutil.which("pg_dump") is None or shutil.which("pg_restore") is None, reason="no pg_dump")
async def test_backup_with_pg_dump_restores_with_every_row(client, tmp_path: Path) -> None:
    await import_book(small.write(tmp_path / "book"), book_files(), "importer")
    target = tmp_path / "registry.dump"
    said = await asyncio.to_thread(backup.backup, get_settings(), target)
    assert "pg_restore" in said
    url = urlparse(get_settings().database_url)
    restored = f"{url.path.lstrip('/')}_restored"
    admin = await asyncpg.connect(url._replace(path="/postgres").geturl())
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored}"')
        await admin.execute(f'CREATE DATABASE "{restored}"')
        restored_url = url._replace(path=f"/{restored}").geturl()
        done = await asyncio.to_thread(
            subprocess.run,
            ["pg_restore", "--no-owner", f"--dbname={restored_url}", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        copy = await asyncpg.connect(restored_url)
        try:
            refs = [r["ref"] for r in await copy.fetch("SELECT ref FROM loan ORDER BY ref")]
            events = await copy.fetchval("SELECT count(*) FROM audit_event")
        finally:
            await copy.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
        await admin.close()
    assert refs == ["L1", "L2", "L3", "L4"]
    assert events == await AuditEvent.count() == 1


async def test_backup_says_plainly_when_pg_dump_is_missing(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(backup.PG_DUMP_SETTING, str(tmp_path / "no-such-pg_dump"))
    with pytest.raises(backup.BackupError, match="pg_dump not found"):
        backup.backup(get_settings(), tmp_path / "registry.dump")
    assert not (tmp_path / "registry.dump").exists()


async def test_pool_size_and_statement_timeout_come_from_the_environment(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = get_settings().database_url
    monkeypatch.setenv("COLLATERAL_PG_POOL_MIN", "1")
    monkeypatch.setenv("COLLATERAL_PG_POOL_MAX", "3")
    monkeypatch.setenv("COLLATERAL_PG_STATEMENT_TIMEOUT_MS", "200")
    get_settings.cache_clear()
    try:
        options = pool_options()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert (options["min_size"], options["max_size"]) == (1, 3)
    pool = await asyncpg.create_pool(database_url, **options)
    try:
        assert pool.get_max_size() == 3
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "200ms"
            with pytest.raises(asyncpg.exceptions.QueryCanceledError):
                await connection.execute("SELECT pg_sleep(2)")
            async with connection.transaction():  # what no_statement_timeout runs, on this connection
                await connection.execute("SET LOCAL statement_timeout = 0")
                await connection.execute("SELECT pg_sleep(0.3)")
        # Released without a reset query (the backend's last statement is still ours), yet what the service
        # sets is gone with its transaction.
        async with pool.acquire() as connection:
            pid = connection.get_server_pid()
            async with connection.transaction():
                await connection.execute("SET LOCAL statement_timeout = 0")
                await connection.execute("SELECT pg_advisory_xact_lock(4242)")
            await connection.execute("SELECT 'the last statement of a request'")
        observer = await asyncpg.connect(database_url)
        try:
            last = await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
            assert last == "SELECT 'the last statement of a request'"
            assert (
                await observer.fetchval("SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory'", pid)
                == 0
            )
        finally:
            await observer.close()
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "200ms"
    finally:
        await pool.close()


async def test_bulk_work_lifts_the_statement_timeout(client) -> None:
    async with write_transaction():
        await AuditEvent.raw("SET LOCAL statement_timeout = 100")
        await no_statement_timeout()
        shown = await AuditEvent.raw("SHOW statement_timeout")
    assert shown == [{"statement_timeout": "0"}]


async def test_the_server_pool_is_built_from_the_settings(client) -> None:
    from registry.db import engine

    pool = engine().pool
    assert pool is not None
    # asyncpg's own default is 10 and 10: the app's pool takes ours (COLLATERAL_PG_POOL_MIN/MAX).
    assert (pool.get_min_size(), pool.get_max_size()) == (get_settings().pg_pool_min, get_settings().pg_pool_max)
    assert pool.get_min_size() == 2
