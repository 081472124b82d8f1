"""With COLLATERAL_REDIS_URL, revoked tokens, lockouts and login counts live in Redis (Litestar's RedisStore), so
two workers see the same ones; without it, each app keeps its own in memory. Needs Redis at 127.0.0.1:6379 (CI
starts it); skipped without one, except under CI=true."""

from __future__ import annotations

import uuid

import pytest
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore

from registry.roles import Role
from registry.stores import STORE_NAMES
from tests.integration.edge_support import app_with, client_for, fresh_token
from tests.integration.test_live_events import REDIS_URL
from tests.servers import require_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def two_workers(app, monkeypatch):
    require_redis()
    env = {
        "COLLATERAL_REDIS_URL": REDIS_URL,
        "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "5",
        "COLLATERAL_LOGIN_LOCKOUT_FAILURES": "3",
    }
    first, second = app_with(monkeypatch, **env), app_with(monkeypatch, **env)
    return first, second


@pytest.fixture
async def fresh_counts(two_workers):
    # Counts left by an earlier test or run in the shared Redis would change what these expect.
    await two_workers[0].stores.get("rate_limit").delete_all()


async def test_the_embedded_default_keeps_its_stores_in_memory(app) -> None:
    assert all(isinstance(app.stores.get(name), MemoryStore) for name in STORE_NAMES)


async def test_a_token_revoked_on_one_worker_is_refused_by_the_other(two_workers, users) -> None:
    first, second = two_workers
    assert all(isinstance(first.stores.get(name), RedisStore) for name in STORE_NAMES)
    token = fresh_token(first, users[Role.AUDITOR], "auditor")
    bearer = {"Authorization": f"Bearer {token}"}
    async with client_for(first) as a, client_for(second) as b:
        assert (await b.get("/api/auth/me", headers=bearer)).status_code == 200
        assert (await a.post("/api/auth/logout", headers=bearer)).status_code == 204
        assert (await b.get("/api/auth/me", headers=bearer)).status_code == 401


async def test_failures_on_both_workers_lock_the_account_on_both(two_workers, fresh_counts) -> None:
    first, second = two_workers
    username = f"ghost-{uuid.uuid4().hex}"
    body = {"username": username, "password": "wrong-password"}
    async with client_for(first) as a, client_for(second) as b:
        assert (await a.post("/api/auth/login", json=body)).status_code == 401
        assert (await b.post("/api/auth/login", json=body)).status_code == 401
        assert (await a.post("/api/auth/login", json=body)).status_code == 429
        locked = await b.post("/api/auth/login", json=body)
        assert locked.status_code == 429
        assert locked.json()["locked"] is True


async def test_the_login_rate_limit_counts_across_workers(two_workers, fresh_counts) -> None:
    first, second = two_workers
    async with client_for(first) as a, client_for(second) as b:
        codes = []
        for i in range(6):
            c = a if i % 2 == 0 else b
            r = await c.post("/api/auth/login", json={"username": f"ghost-{uuid.uuid4().hex}", "password": "x-y-z-w"})
            codes.append(r.status_code)
    assert codes == [401, 401, 401, 401, 401, 429]
