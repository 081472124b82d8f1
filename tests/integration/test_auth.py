from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler

from registry.auth import role_guard
from registry.config import get_settings
from registry.roles import Role
from tests.integration.conftest import PASSWORDS

pytestmark = pytest.mark.integration

PUBLIC_OPERATIONS = {"Login", "Health", "HealthLive", "HealthReady", "ListPublicAuctions"}
# A round's public figures, its live feed and its bids (a bidder sees only their own) are for bidders and staff.
OPEN_TO_EVERY_ROLE = {"WhoAmI", "Logout", "GetRound", "RoundEvents", "ListBids"}


def _handlers(app: Any) -> list[HTTPRouteHandler]:
    # Litestar adds an OPTIONS handler to every path for CORS preflight; it runs no handler code.
    # The OpenAPI document under /schema is public by design (and excluded from auth).
    return [
        h
        for route in app.routes
        for h in getattr(route, "route_handlers", [])
        if isinstance(h, HTTPRouteHandler) and h.http_methods != {"OPTIONS"} and not route.path.startswith("/schema")
    ]


def _roles_by_operation(app: Any) -> dict[str, frozenset[Role] | None]:
    return {h.operation_id: h.opt.get("roles") for h in _handlers(app) if isinstance(h.operation_id, str)}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if "id" in m.group(0) else "X", path)


async def test_login_returns_bearer_token_and_wrong_password_is_401(client, users) -> None:
    r = await client.post(
        "/api/auth/login", json={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"id": me.json()["id"], "username": users[Role.AUDITOR], "role": "auditor", "active": True}
    for username, password in [(users[Role.AUDITOR], "wrong-password"), ("nobody", "whatever-pw")]:
        r = await client.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_tampered_or_foreign_token_is_401(client, tokens) -> None:
    token = tokens[Role.ADMIN]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_every_route_declares_roles_and_is_guarded(app) -> None:
    for handler in _handlers(app):
        if handler.opt.get("public"):
            continue
        assert handler.opt.get("roles"), f"{handler.paths} declares no roles"
        guards = [getattr(g, "func", g) for g in handler.resolve_guards()]
        assert role_guard in guards, f"{handler.paths} is not behind the role guard"


async def test_every_schema_route_refuses_no_token_401_and_wrong_role_403(client, app, tokens) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    roles_of = _roles_by_operation(app)
    walked = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            op_id = operation["operationId"]
            url = _concrete(path)
            anonymous = await client.request(method.upper(), url)
            if op_id in PUBLIC_OPERATIONS:
                assert anonymous.status_code != 401, f"{method} {path} should be public"
                continue
            assert anonymous.status_code == 401, f"{method} {path} without a token: {anonymous.status_code}"
            allowed = roles_of[op_id]
            assert allowed, f"{op_id} has no roles"
            wrong = sorted(set(Role) - set(allowed))
            if not wrong:
                assert op_id in OPEN_TO_EVERY_ROLE, f"{op_id} is open to every role"
                continue
            for role in wrong:
                denied = await client.request(method.upper(), url, headers={"Authorization": f"Bearer {tokens[role]}"})
                assert denied.status_code == 403, f"{method} {path} as {role}: {denied.status_code}"
            walked += 1
    assert walked >= 25


async def test_party_id_numbers_are_masked_except_for_admin_and_auditor(client, as_role) -> None:
    await client.post(
        "/api/parties",
        json={"ref": "P1", "name": "Li Na", "kind": "individual", "id_number": "310101198001011234"},
        headers=as_role(Role.ASSET_MANAGER),
    )
    for role, expected in [
        (Role.CREDIT_OFFICER, "**************1234"),
        (Role.ASSET_MANAGER, "**************1234"),
        (Role.AUDITOR, "310101198001011234"),
        (Role.ADMIN, "310101198001011234"),
    ]:
        party = (await client.get("/api/parties/P1", headers=as_role(role))).json()
        assert party["id_number"] == expected, role
        listed = (await client.get("/api/parties", headers=as_role(role))).json()["items"][0]
        assert listed["id_number"] == expected


async def test_login_is_rate_limited_per_client(monkeypatch, app) -> None:
    from app import create_app

    monkeypatch.setenv("COLLATERAL_LOGIN_ATTEMPTS_PER_MINUTE", "3")
    get_settings.cache_clear()
    try:
        limited = create_app()
    finally:
        get_settings.cache_clear()
    # No lifespan here: the session app already holds the database pool this app's queries use.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://t") as c:
        codes = [
            (await c.post("/api/auth/login", json={"username": "x", "password": "y"})).status_code for _ in range(5)
        ]
        assert codes[:3] == [401, 401, 401]
        assert codes[3:] == [429, 429]
        # Other routes are not counted against the login budget.
        assert (await c.get("/health")).status_code == 200


async def test_admin_manages_users(client, as_role) -> None:
    r = await client.post(
        "/api/users",
        json={"username": "newbie", "password": "long-enough-pw", "role": "bidder"},
        headers=as_role(Role.ADMIN),
    )
    assert r.status_code == 201
    assert r.json()["role"] == "bidder"
    r = await client.post(
        "/api/users", json={"username": "short", "password": "x", "role": "bidder"}, headers=as_role(Role.ADMIN)
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"
    r = await client.post(
        "/api/users", json={"username": "x2", "password": "long-enough-pw", "role": "king"}, headers=as_role(Role.ADMIN)
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "role"
    login = await client.post("/api/auth/login", json={"username": "newbie", "password": "long-enough-pw"})
    assert login.status_code == 200
    from registry.tables import AppUser

    await AppUser.delete().where(AppUser.username == "newbie")


@pytest.mark.parametrize("depth", [1000, 100_000])
async def test_json_nested_too_deeply_is_refused_not_a_500(client, depth: int) -> None:
    body = '{"username": ' + "[" * depth + "]" * depth + ', "password": "whatever-pass"}'
    r = await client.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    deep_object = '{"a": ' * depth + "1" + "}" * depth
    r = await client.post("/api/auth/login", content=deep_object, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), (r.status_code, r.text)
