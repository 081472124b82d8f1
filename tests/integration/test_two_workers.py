"""Two real server processes on one database and one Redis, as two workers or two containers are: a token logged
out on one is refused by the other, and failed logins on both lock the account on both. SQLite pass only (the
servers run on their own database); needs Redis at 127.0.0.1:6379 (CI starts it)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENGINE
from tests.integration.test_live_events import REDIS_URL
from tests.servers import collateral, free_port, require_redis

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "two-workers-password"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(ENGINE != "sqlite", reason="starts its own servers on SQLite; once is enough"),
]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_redis()
    tmp = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'w.sqlite3'}",
        "COLLATERAL_DATA_DIR": str(tmp / "data"),
        "COLLATERAL_SECRET_KEY": "two-workers-test-secret-key-of-32-bytes-or-more",
        "COLLATERAL_REDIS_URL": REDIS_URL,
        "COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE": "10000",
        "COLLATERAL_LOGIN_LOCKOUT_FAILURES": "4",
        "COLLATERAL_PASSWORD": PASSWORD,
    }
    added = subprocess.run(
        collateral("users", "add", "carol", "--role", "auditor"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr[-3000:]
    procs, urls = [], []
    for name in ("a", "b"):
        port = free_port()
        with (tmp / f"server-{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    collateral("serve", "--host", "127.0.0.1", "--port", str(port)),
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for name, url, proc in zip("ab", urls, procs, strict=True):
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, (tmp / f"server-{name}.log").read_text()[-3000:]
                assert time.monotonic() < deadline, f"server {name} did not start"
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_token_logged_out_on_one_worker_is_refused_by_the_other(workers: tuple[str, str]) -> None:
    a, b = workers
    login = httpx.post(f"{a}/api/auth/login", json={"username": "carol", "password": PASSWORD})
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert httpx.get(f"{b}/api/auth/me", headers=bearer).status_code == 200
    assert httpx.post(f"{a}/api/auth/logout", headers=bearer).status_code == 204
    assert httpx.get(f"{b}/api/auth/me", headers=bearer).status_code == 401
    assert httpx.get(f"{a}/api/auth/me", headers=bearer).status_code == 401


def test_failed_logins_on_both_workers_lock_the_account_on_both(workers: tuple[str, str]) -> None:
    a, b = workers
    ghost = {"username": f"ghost-{uuid.uuid4().hex}", "password": "not-the-password"}
    codes = [httpx.post(f"{url}/api/auth/login", json=ghost).status_code for url in (a, b, a, b, a, b)]
    assert codes == [401, 401, 401, 429, 429, 429]
