"""Signing in and out (issue 13, defects 10 and 11): forwarded addresses believed only from trusted proxies, a
per-account lockout, and a token refused once its holder has logged out."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from registry.roles import Role
from tests.integration.conftest import PASSWORDS
from tests.integration.edge_support import app_with, client_for, fresh_token

pytestmark = pytest.mark.integration


async def _login(c, username: str, password: str, **headers: str):
    return await c.post("/api/auth/login", json={"username": username, "password": password}, headers=headers)


# --- defect 10: forwarded addresses ----------------------------------------------------------------------------


async def test_x_forwarded_for_does_not_dodge_the_rate_limit_without_a_trusted_proxy(app, monkeypatch) -> None:
    limited = app_with(monkeypatch, COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE="2")
    async with client_for(limited) as c:  # the test client connects from 127.0.0.1, as a local proxy would
        codes = [
            (await _login(c, f"nobody{i}", "wrong-pass", **{"X-Forwarded-For": f"203.0.113.{i}"})).status_code
            for i in range(4)
        ]
    assert codes == [401, 401, 429, 429]


async def test_a_trusted_proxy_gives_each_forwarded_client_its_own_count(app, monkeypatch) -> None:
    limited = app_with(monkeypatch, COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE="2", COLLATERAL_TRUSTED_PROXIES="127.0.0.1")
    async with client_for(limited) as c:
        spread = [
            (await _login(c, f"nobody{i}", "wrong-pass", **{"X-Forwarded-For": f"203.0.113.{i}"})).status_code
            for i in range(4)
        ]
        assert spread == [401, 401, 401, 401]
        # The proxy appends the address it saw; what the client wrote before it is not believed.
        same = [
            (await _login(c, "nobody", "wrong-pass", **{"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.7"})).status_code
            for i in range(3)
        ]
        assert same == [401, 401, 429]


def test_serve_leaves_forwarded_headers_to_the_app(monkeypatch) -> None:
    import uvicorn

    import registry.cli
    from app import build_cli

    seen: dict[str, object] = {}
    monkeypatch.setattr(registry.cli, "run", lambda coroutine: coroutine.close())
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, *args, **kwargs: seen.update(vars(server.config)))
    result = CliRunner().invoke(build_cli(), ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    # uvicorn's own handling trusts X-Forwarded-For from any loopback peer; the app decides instead.
    assert seen["proxy_headers"] is False
    assert seen["port"] == 8123


# --- defect 10: per-account lockout ----------------------------------------------------------------------------


@pytest.fixture
def lockout_app(app, monkeypatch):
    return app_with(
        monkeypatch,
        COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE="100",
        COLLATERAL_LOGIN_LOCKOUT_FAILURES="3",
        COLLATERAL_LOGIN_LOCKOUT_WINDOW_SECONDS="60",
        COLLATERAL_LOGIN_LOCKOUT_SECONDS="1",
    )


async def test_failed_logins_lock_the_account_whatever_the_address(lockout_app, monkeypatch, users) -> None:
    auditor, right = users[Role.AUDITOR], PASSWORDS[Role.AUDITOR]
    async with client_for(lockout_app) as c:
        assert (await _login(c, auditor, "wrong-1")).status_code == 401
        assert (await _login(c, auditor, "wrong-2")).status_code == 401
        third = await _login(c, auditor, "wrong-3")
        assert third.status_code == 429
        assert third.headers["content-type"].startswith("application/problem+json")
        assert "locked after 3 failed logins" in third.json()["detail"]
        assert third.json()["locked"] is True
        # Even the right password is refused while the lock holds, and nothing about it is checked.
        locked = await _login(c, auditor, right)
        assert locked.status_code == 429
        assert "locked" in locked.json()["detail"]
        # Another account is not affected.
        assert (await _login(c, users[Role.ADMIN], PASSWORDS[Role.ADMIN])).status_code == 200
        await asyncio.sleep(1.2)
        after = await _login(c, auditor, right)
        assert after.status_code == 200, after.text


async def test_a_success_clears_the_failures(lockout_app, users) -> None:
    auditor, right = users[Role.AUDITOR], PASSWORDS[Role.AUDITOR]
    async with client_for(lockout_app) as c:
        for _ in range(2):
            assert (await _login(c, auditor, "wrong")).status_code == 401
        assert (await _login(c, auditor, right)).status_code == 200
        for _ in range(2):
            assert (await _login(c, auditor, "wrong")).status_code == 401
        assert (await _login(c, auditor, right)).status_code == 200


async def test_an_unknown_username_locks_like_a_real_one(lockout_app) -> None:
    async with client_for(lockout_app) as c:
        codes = [(await _login(c, "no-such-user", "wrong")).status_code for _ in range(4)]
    assert codes == [401, 401, 429, 429]  # the answers do not tell which usernames exist


async def test_the_login_page_says_the_account_is_locked(lockout_app, users) -> None:
    auditor = users[Role.AUDITOR]
    async with client_for(lockout_app) as c:
        for _ in range(3):
            r = await c.post("/login", data={"username": auditor, "password": "wrong-pw"})
        assert r.status_code == 429
        assert "locked after 3 failed logins" in r.text
        r = await c.post("/login", data={"username": auditor, "password": PASSWORDS[Role.AUDITOR]})
        assert r.status_code == 429
        assert "set-cookie" not in r.headers


# --- defect 11: logging out revokes the token ------------------------------------------------------------------


async def test_a_token_is_refused_after_logout(client, app, users) -> None:
    token = fresh_token(app, users[Role.AUDITOR], "auditor")
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/auth/me", headers=bearer)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=bearer)).status_code == 204
    r = await client.get("/api/auth/me", headers=bearer)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    # Other tokens of the same user are not affected.
    other = fresh_token(app, users[Role.AUDITOR], "auditor")
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"})).status_code == 200


async def test_logging_out_of_the_pages_revokes_the_cookie_token(client, users) -> None:
    r = await client.post("/login", data={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]})
    assert r.status_code == 303
    token = client.cookies["access_token"]
    assert (await client.get("/home")).status_code == 200
    assert (await client.post("/logout")).status_code == 303
    # A copy of the cookie kept from before the logout (by an attacker, say) no longer works.
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    client.cookies.set("access_token", token)
    r = await client.get("/home")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_a_token_without_an_id_is_not_accepted(client, app, users) -> None:
    from datetime import UTC, datetime, timedelta

    from litestar.security.jwt import Token

    jwt_auth = app.state.jwt_auth
    unrevocable = Token(
        sub=users[Role.AUDITOR], exp=datetime.now(UTC) + timedelta(minutes=5), extras={"role": "auditor"}
    ).encode(jwt_auth.token_secret, jwt_auth.algorithm)
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {unrevocable}"})
    assert r.status_code == 401
