"""The HTTP edge (issue 13, defects 7, 9 and 11): cross-site writes, JSON-only API bodies, one body limit per
route, the Secure cookie and the security headers."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from registry.edge import DEFAULT_BODY_LIMIT, MiB
from registry.roles import Role
from registry.services.documents import MAX_BYTES
from registry.tables import Party
from tests.integration.conftest import PASSWORDS
from tests.integration.edge_support import app_with, client_for
from tests.integration.factory import Book

pytestmark = pytest.mark.integration

PARTY = {"ref": "X1", "name": "Cross Site Ltd", "kind": "company"}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


@pytest.fixture
def cookie(tokens) -> dict[str, str]:
    return {"Cookie": f"access_token={tokens[Role.ASSET_MANAGER]}"}


# --- defect 7: cross-site writes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "foreign",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_cookie_write_from_another_site_is_refused_and_writes_nothing(client, cookie, foreign) -> None:
    r = await client.post("/api/parties", json=PARTY, headers={**cookie, **foreign})
    body = _problem(r, 403)
    assert "this site" in body["detail"]
    assert not await Party.exists().where(Party.ref == "X1")


async def test_a_cookie_write_from_this_site_or_a_script_still_works(client, cookie) -> None:
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/api/parties", json=PARTY, headers={**cookie, **same_origin})).status_code == 201
    # No Origin and no Sec-Fetch-Site: no browser sent it, so no other site can have made it carry the cookie.
    r = await client.post("/api/parties", json={**PARTY, "ref": "X2"}, headers=cookie)
    assert r.status_code == 201


async def test_bearer_requests_are_not_affected_by_their_origin(client, as_role) -> None:
    headers = {**as_role(Role.ASSET_MANAGER), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert (await client.post("/api/parties", json=PARTY, headers=headers)).status_code == 201


async def test_a_configured_origin_may_write_with_the_cookie(client, app, cookie) -> None:
    portal = {"Origin": "https://portal.bank.example", "Sec-Fetch-Site": "cross-site"}
    assert (await client.post("/api/parties", json=PARTY, headers={**cookie, **portal})).status_code == 403
    settings = app.state.edge
    app.state.edge = dataclasses.replace(settings, allowed_origins=frozenset({"https://portal.bank.example"}))
    try:
        assert (await client.post("/api/parties", json=PARTY, headers={**cookie, **portal})).status_code == 201
    finally:
        app.state.edge = settings


async def test_allowed_origins_are_read_from_the_environment(app, monkeypatch) -> None:
    app = app_with(monkeypatch, COLLATERAL_ALLOWED_ORIGINS="https://portal.bank.example, HTTPS://Other.Example:443/")
    assert app.state.edge.allowed_origins == {"https://portal.bank.example", "https://other.example"}
    with pytest.raises(ValueError, match="COLLATERAL_ALLOWED_ORIGINS"):
        app_with(monkeypatch, COLLATERAL_ALLOWED_ORIGINS="portal.bank.example")


async def test_a_page_form_posted_from_another_site_is_refused(client, tokens) -> None:
    # The page's logout form: from another site it must neither sign the user out nor revoke the token.
    token = tokens[Role.AUDITOR]
    r = await client.post("/logout", headers={"Cookie": f"access_token={token}", "Origin": "https://evil.example"})
    assert r.status_code == 403  # the pages answer as a page (frontend.errors), with the same status
    assert "set-cookie" not in r.headers
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_another_site_cannot_sign_a_visitor_in(client, users) -> None:
    form = {"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]}
    r = await client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    r = await client.post("/api/auth/login", json=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403


async def test_page_forms_from_this_site_keep_working(client, users) -> None:
    r = await client.post(
        "/login",
        data={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert r.status_code == 303
    page = await client.get("/home")
    assert page.status_code == 200
    r = await client.post("/logout", headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303


@pytest.mark.parametrize(
    "content_type", ["text/plain", "text/plain;charset=UTF-8", None, "application/x-www-form-urlencoded"]
)
async def test_the_api_reads_a_json_body_only_when_it_is_sent_as_json(client, as_role, content_type) -> None:
    headers = {**as_role(Role.ASSET_MANAGER)}
    if content_type:
        headers["Content-Type"] = content_type
    r = await client.post("/api/parties", content=b'{"ref": "X1", "name": "N", "kind": "company"}', headers=headers)
    body = _problem(r, 415)
    assert (content_type or "(none)") in body["detail"]
    assert "application/json" in body["detail"]
    assert not await Party.exists().where(Party.ref == "X1")
    # The login too: a text/plain form from another site cannot sign anyone in.
    r = await client.post("/api/auth/login", content=b'{"username": "a", "password": "b"}', headers=headers)
    _problem(r, 415)


async def test_json_with_a_charset_is_json(client, as_role) -> None:
    headers = {**as_role(Role.ASSET_MANAGER), "Content-Type": "application/json; charset=utf-8"}
    r = await client.post("/api/parties", content=b'{"ref": "X1", "name": "N", "kind": "company"}', headers=headers)
    assert r.status_code == 201, r.text


async def test_a_caller_without_the_role_learns_that_before_the_content_type(client, as_role) -> None:
    r = await client.post("/api/parties", content=b"x", headers={**as_role(Role.BIDDER), "Content-Type": "text/plain"})
    assert r.status_code == 403


# --- defect 9: one body limit per route ----------------------------------------------------------------------


async def test_the_documented_50_mib_document_limit_is_reachable(client, as_role) -> None:
    book = Book(client, as_role)
    await book.party("P1")
    await book.asset("A1")
    # Larger than the framework's old 10 MB default and than the small default of other routes.
    content = b"%PDF-1.4 " + b"\0" * (12 * MiB)
    r = await client.post(
        "/api/documents",
        files={"file": ("deed.pdf", content, "application/pdf")},
        data={"entity": "asset", "entity_ref": "A1"},
        headers=as_role(Role.ASSET_MANAGER),
    )
    assert r.status_code == 201, r.text[:300]
    assert r.json()["size"] == len(content)


async def test_a_document_over_the_limit_is_413_problem(client, as_role) -> None:
    r = await client.post(
        "/api/documents",
        files={"file": ("big.pdf", b"\0" * (MAX_BYTES + 2 * MiB), "application/pdf")},
        data={"entity": "asset", "entity_ref": "A1"},
        headers=as_role(Role.ASSET_MANAGER),
    )
    body = _problem(r, 413)
    assert "51 MiB" in body["detail"]


async def test_other_routes_keep_a_small_body_limit(client, as_role) -> None:
    big_name = "x" * (DEFAULT_BODY_LIMIT + 1)
    r = await client.post(
        "/api/parties", json={"ref": "X1", "name": big_name, "kind": "company"}, headers=as_role(Role.ASSET_MANAGER)
    )
    body = _problem(r, 413)
    assert "1 MiB" in body["detail"]
    assert not await Party.exists().where(Party.ref == "X1")


async def test_a_body_over_the_limit_without_a_length_is_413_too(client, as_role) -> None:
    async def chunks():
        for _ in range(3):
            yield b" " * (DEFAULT_BODY_LIMIT // 2)
        yield b'{"ref": "X1", "name": "N", "kind": "company"}'

    headers = {**as_role(Role.ASSET_MANAGER), "Content-Type": "application/json"}
    r = await client.post("/api/parties", content=chunks(), headers=headers)
    _problem(r, 413)


def _documented_limits() -> tuple[dict[str, int], int]:
    """The body-limit table of docs/operations.md: {path: bytes} and the default for every other route."""
    units = {"MiB": MiB, "GiB": 1024 * MiB}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    table = docs[docs.index("**Body limits**") :].split("\n\n", 2)[1]
    limits, default = {}, 0
    for route, number, unit in re.findall(r"^\s*\| (.+?) \| (\d+) (MiB|GiB)", table, re.MULTILINE):
        if route.startswith("every other route"):
            default = int(number) * units[unit]
        else:
            limits[re.search(r"`POST (\S+)`", route).group(1)] = int(number) * units[unit]
    return limits, default


def test_every_route_has_the_body_limit_the_operations_guide_documents(app) -> None:
    documented, default = _documented_limits()
    assert default == DEFAULT_BODY_LIMIT
    assert documented["/api/documents"] == MAX_BYTES + MiB
    seen = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not {"POST", "PUT", "PATCH"} & set(getattr(handler, "http_methods", ())):
                continue
            expected = documented.get(route.path, default)
            assert handler.resolve_request_max_body_size() == expected, route.path
            seen.add(route.path)
    assert set(documented) <= seen, "the guide documents a route the app does not have"


# --- defect 11: Secure cookie and security headers -------------------------------------------------------------


async def _page_login(c, users) -> str:
    r = await c.post("/login", data={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]})
    assert r.status_code == 303, r.text
    return r.headers["set-cookie"]


async def test_the_session_cookie_is_secure_over_https(app, users) -> None:
    async with client_for(app, "https://registry.example") as c:
        assert "secure" in (await _page_login(c, users)).lower()
    async with client_for(app, "http://registry.example") as c:
        cookie = (await _page_login(c, users)).lower()
        assert "secure" not in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie


async def test_a_forwarded_https_counts_only_from_a_trusted_proxy(app, monkeypatch, users) -> None:
    forwarded = {"X-Forwarded-Proto": "https"}
    async with client_for(app) as c:
        r = await c.post(
            "/login",
            data={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]},
            headers=forwarded,
        )
        assert "secure" not in r.headers["set-cookie"].lower()
    proxied = app_with(monkeypatch, COLLATERAL_TRUSTED_PROXIES="127.0.0.1")
    async with client_for(proxied) as c:
        r = await c.post(
            "/login",
            data={"username": users[Role.AUDITOR], "password": PASSWORDS[Role.AUDITOR]},
            headers=forwarded,
        )
        assert "secure" in r.headers["set-cookie"].lower()


async def test_secure_cookies_can_be_forced(app, monkeypatch, users) -> None:
    forced = app_with(monkeypatch, COLLATERAL_SECURE_COOKIES="true")
    async with client_for(forced) as c:
        assert "secure" in (await _page_login(c, users)).lower()


@pytest.mark.parametrize("path", ["/login", "/api/auth/me", "/no/such/page", "/health", "/static/app.css"])
async def test_every_response_carries_the_security_headers(client, path) -> None:
    r = await client.get(path)
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


async def test_the_api_documentation_page_gets_a_policy_it_can_run_under(client) -> None:
    r = await client.get("/schema/swagger")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in csp  # its own files and the page's starting script, no CDN
    assert "http" not in csp
    assert "frame-ancestors 'none'" in csp


def test_the_pages_need_no_inline_script_or_style() -> None:
    templates = Path(__file__).resolve().parents[2] / "frontend" / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text()
        for script in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in script or 'type="application/json"' in script, f"{template}: inline script {script}"
        assert "<style" not in text, f"{template}: inline <style>"
        assert not re.search(r"\sstyle=", text), f"{template}: style attribute"
        assert not re.search(r"\son[a-z]+=", text), f"{template}: inline event handler"
