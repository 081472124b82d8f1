"""Test set-up shared by every level.

The engine is chosen before anything imports the app, because Piccolo tables bind their engine at
import time: COLLATERAL_TEST_ENGINE=sqlite (default, a fresh file per run) or postgres
(TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test). Without a reachable
PostgreSQL the database tests of a postgres run are skipped with the reason, except under CI=true,
where the run fails.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

ENGINE = os.environ.get("COLLATERAL_TEST_ENGINE", "sqlite")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_TMP = Path(tempfile.mkdtemp(prefix="collateral-tests-"))

if ENGINE == "postgres":
    # A database of this run's own (made from the test database's server), so two runs at once cannot
    # drop each other's tables; dropped again when the run ends.
    RUN_DATABASE = f"collateral_test_{os.getpid()}"
    os.environ["DATABASE_URL"] = urlparse(POSTGRES_URL)._replace(path=f"/{RUN_DATABASE}").geturl()
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'registry.sqlite3'}"
os.environ["COLLATERAL_DATA_DIR"] = str(_TMP / "data")
os.environ["COLLATERAL_SECRET_KEY"] = "test-secret-key-of-at-least-32-bytes!"
os.environ.setdefault("COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE", "100000")


def postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    url = urlparse(POSTGRES_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 5432), timeout=2):
            return None
    except OSError as exc:
        return f"PostgreSQL at {url.hostname}:{url.port or 5432} is not reachable ({exc})"


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pytest_sessionstart(session: pytest.Session) -> None:
    if ENGINE == "postgres" and postgres_reachable() is None:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}"'))
        asyncio.run(_admin(f'CREATE DATABASE "{RUN_DATABASE}"'))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if ENGINE == "postgres" and postgres_reachable() is None:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{RUN_DATABASE}" WITH (FORCE)'))


def pytest_report_header(config: pytest.Config) -> str:
    return f"collateral test engine: {ENGINE} ({os.environ['DATABASE_URL']})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ENGINE != "postgres":
        return
    reason = postgres_reachable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"CI=true requires PostgreSQL: {reason}")
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "integration" in item.keywords or "browser" in item.keywords:
            item.add_marker(skip)
