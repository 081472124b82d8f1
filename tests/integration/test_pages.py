"""The browser pages over HTTP: sign-in, the role guard's redirects and 403s, the register, the asset page,
and the coverage, stress and what-if pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from registry.roles import REGISTRY_READERS, SCENARIO_RUNNERS, Role
from tests.integration.conftest import PASSWORDS

pytestmark = pytest.mark.integration

HX = {"HX-Request": "true"}


async def sign_in(client: httpx.AsyncClient, username: str, password: str, **extra: str) -> httpx.Response:
    return await client.post("/login", data={"username": username, "password": password, **extra})


def set_cookie_header(response: httpx.Response) -> str:
    return "\n".join(response.headers.get_list("set-cookie"))


async def add_party(client: httpx.AsyncClient, headers: dict[str, str], ref: str, name: str) -> None:
    r = await client.post("/api/parties", json={"ref": ref, "name": name, "kind": "company"}, headers=headers)
    assert r.status_code == 201, r.text


async def add_asset(client: httpx.AsyncClient, headers: dict[str, str], ref: str, **fields: Any) -> None:
    body = {"ref": ref, "kind": "vehicle", "owner_ref": "P1", "description": f"asset {ref}", **fields}
    r = await client.post("/api/assets", json=body, headers=headers)
    assert r.status_code == 201, r.text


def refs_in_table(html: str) -> list[str]:
    return re.findall(r'<tr data-ref="([^"]+)"', html)


# --- signing in and out -------------------------------------------------------------------------


async def test_login_form_is_public(client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert 'name="username"' in r.text
    assert 'name="password"' in r.text


async def test_login_sets_session_cookie_and_redirects_to_register(
    client: httpx.AsyncClient, users: dict[Role, str]
) -> None:
    r = await sign_in(client, users[Role.ASSET_MANAGER], PASSWORDS[Role.ASSET_MANAGER])
    assert r.status_code == 303
    assert r.headers["location"] == "/assets"
    cookie = set_cookie_header(r)
    assert cookie.startswith("access_token=")
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/" in cookie
    page = await client.get("/assets")
    assert page.status_code == 200
    assert "Asset register" in page.text
    assert users[Role.ASSET_MANAGER] in page.text


async def test_wrong_password_shows_form_again_with_401_and_no_cookie(
    client: httpx.AsyncClient, users: dict[Role, str]
) -> None:
    r = await sign_in(client, users[Role.ASSET_MANAGER], "not-the-password")
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    assert 'name="password"' in r.text
    assert "set-cookie" not in r.headers
    assert (await client.get("/assets")).status_code == 303


async def test_unknown_user_and_empty_form_are_refused_alike(client: httpx.AsyncClient) -> None:
    assert (await sign_in(client, "nobody", "whatever-password")).status_code == 401
    r = await client.post("/login", data={})
    assert r.status_code == 401
    assert "set-cookie" not in r.headers


async def test_login_returns_to_the_page_asked_for(client: httpx.AsyncClient, users: dict[Role, str]) -> None:
    first = await client.get("/assets?kind=vehicle")
    assert first.status_code == 303
    location = urlsplit(first.headers["location"])
    assert location.path == "/login"
    next_path = parse_qs(location.query)["next"][0]
    assert next_path == "/assets?kind=vehicle"
    form = await client.get(first.headers["location"])
    assert f'name="next" value="{next_path}"' in form.text
    r = await sign_in(client, users[Role.AUDITOR], PASSWORDS[Role.AUDITOR], next=next_path)
    assert r.headers["location"] == "/assets?kind=vehicle"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "/login"]
)
async def test_login_never_redirects_off_site(client: httpx.AsyncClient, users: dict[Role, str], target: str) -> None:
    r = await sign_in(client, users[Role.AUDITOR], PASSWORDS[Role.AUDITOR], next=target)
    assert r.status_code == 303
    assert r.headers["location"] == "/assets"


async def test_bidder_lands_on_the_auctions_without_registry_links(
    client: httpx.AsyncClient, users: dict[Role, str]
) -> None:
    r = await sign_in(client, users[Role.BIDDER], PASSWORDS[Role.BIDDER])
    assert r.headers["location"] == "/public/auctions"
    home = await client.get("/home")
    assert home.status_code == 200
    assert 'href="/public/auctions"' in home.text
    assert 'href="/assets"' not in home.text
    assert 'href="/disposals"' not in home.text


async def test_logout_clears_cookie_and_returns_to_login(client: httpx.AsyncClient, users: dict[Role, str]) -> None:
    await sign_in(client, users[Role.ASSET_MANAGER], PASSWORDS[Role.ASSET_MANAGER])
    r = await client.post("/logout")
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    assert re.search(r"access_token=(\"\"|;)", set_cookie_header(r))
    assert "access_token" not in client.cookies
    assert (await client.get("/assets")).status_code == 303


async def test_start_page_sends_each_role_to_its_landing_page(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.get("/", headers=as_role(Role.CREDIT_OFFICER))
    assert (r.status_code, r.headers["location"]) == (303, "/assets")
    r = await client.get("/", headers=as_role(Role.BIDDER))
    assert (r.status_code, r.headers["location"]) == (303, "/public/auctions")


# --- the guard --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/home", "/assets", "/assets/A1"])
async def test_pages_without_session_redirect_to_login(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/login"


async def test_forged_cookie_redirects_to_login_and_is_dropped(client: httpx.AsyncClient) -> None:
    client.cookies.set("access_token", "not.a.jwt")
    r = await client.get("/assets")
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/login"
    assert re.search(r"access_token=(\"\"|;)", set_cookie_header(r))


async def test_htmx_request_without_session_asks_htmx_to_navigate(client: httpx.AsyncClient) -> None:
    r = await client.get("/assets?q=x", headers={**HX, "HX-Current-URL": "http://testserver/assets?kind=vehicle"})
    assert r.status_code == 200
    target = urlsplit(r.headers["hx-redirect"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/assets?kind=vehicle"]


async def test_bidder_gets_html_403_on_register(client: httpx.AsyncClient, as_role: Any) -> None:
    for path in ("/assets", "/assets/A1"):
        r = await client.get(path, headers=as_role(Role.BIDDER))
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("text/html")
        assert "Not allowed" in r.text


async def test_pages_are_not_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [
        p
        for p in paths
        if p in {"/", "/login", "/logout", "/home"} or p.startswith(("/assets", "/static", "/coverage"))
    ]


async def test_stylesheet_is_served_without_session(client: httpx.AsyncClient) -> None:
    r = await client.get("/static/app.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")


# --- the register -----------------------------------------------------------------------------


async def test_register_lists_searches_filters_and_pages(client: httpx.AsyncClient, as_role: Any) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    await add_party(client, manager, "P1", "Acme Holdings")
    await add_party(client, manager, "P2", "Zhang Wei")
    for i in range(1, 31):
        await add_asset(client, manager, f"V{i:02d}", kind="vehicle", identifiers={"vin": f"VIN{i:05d}"})
    await add_asset(client, manager, "RE1", kind="real_estate", owner_ref="P2", address="1 Harbour Road, Shanghai")
    await add_asset(client, manager, "EQ1", kind="equipment", status="seized", description="CNC lathe")
    reader = as_role(Role.AUDITOR)

    r = await client.get("/assets", headers=reader)
    assert r.status_code == 200
    assert "<html" in r.text
    assert 'data-testid="total">32<' in r.text
    assert refs_in_table(r.text) == ["EQ1", "RE1", *[f"V{i:02d}" for i in range(1, 24)]]
    assert "Page 1 of 2" in r.text
    assert 'href="/assets?page=2"' in r.text

    r = await client.get("/assets?page=2", headers=reader)
    assert refs_in_table(r.text) == [f"V{i:02d}" for i in range(24, 31)]

    r = await client.get("/assets?q=harbour", headers=reader)
    assert refs_in_table(r.text) == ["RE1"]
    r = await client.get("/assets?q=zhang", headers=reader)
    assert refs_in_table(r.text) == ["RE1"]
    r = await client.get("/assets?q=VIN00007", headers=reader)
    assert refs_in_table(r.text) == ["V07"]

    r = await client.get("/assets?kind=equipment&status=&q=", headers=reader)
    assert refs_in_table(r.text) == ["EQ1"]
    r = await client.get("/assets?status=seized", headers=reader)
    assert refs_in_table(r.text) == ["EQ1"]
    r = await client.get("/assets?kind=vehicle&page_size=10&page=3", headers=reader)
    assert refs_in_table(r.text) == [f"V{i:02d}" for i in range(21, 31)]
    assert "Page 3 of 3" in r.text
    assert 'href="/assets?kind=vehicle&amp;page=2&amp;page_size=10"' in r.text

    r = await client.get("/assets?q=nothing-like-this", headers=reader)
    assert 'data-testid="total">0<' in r.text
    assert refs_in_table(r.text) == []


async def test_htmx_request_gets_only_the_results(client: httpx.AsyncClient, as_role: Any) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    await add_party(client, manager, "P1", "Acme Holdings")
    await add_asset(client, manager, "V1")
    await add_asset(client, manager, "EQ1", kind="equipment")

    r = await client.get("/assets?q=&kind=equipment&status=&page_size=25", headers={**manager, **HX})
    assert r.status_code == 200
    assert "<html" not in r.text
    assert 'id="asset-filters"' not in r.text
    assert refs_in_table(r.text) == ["EQ1"]
    assert r.headers["hx-push-url"] == "/assets?kind=equipment"
    assert "HX-Request" in r.headers["vary"]

    full = await client.get("/assets", headers={**manager, **HX, "HX-History-Restore-Request": "true"})
    assert "<html" in full.text


async def test_unknown_filter_value_is_a_422_page(client: httpx.AsyncClient, as_role: Any) -> None:
    # The same status the API answers for bad input (registry.problems), as a page.
    r = await client.get("/assets?kind=spaceship", headers=as_role(Role.AUDITOR))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "spaceship" in r.text
    r = await client.get("/assets?page=0", headers=as_role(Role.AUDITOR))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")


async def test_register_escapes_what_users_typed(client: httpx.AsyncClient, as_role: Any) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    await add_party(client, manager, "P1", "<b>Acme</b>")
    await add_asset(client, manager, "V1", description="<script>alert(1)</script>")
    r = await client.get("/assets?q=%3Cscript", headers=manager)
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "&lt;b&gt;Acme&lt;/b&gt;" in r.text


# --- the asset page ---------------------------------------------------------------------------


async def _registered_lien(
    client: httpx.AsyncClient, headers: dict[str, str], ref: str, perfected_at: str, **fields: Any
) -> None:
    body = {"ref": ref, "asset_ref": "RE1", "kind": "mortgage", "currency": "CNY", **fields}
    r = await client.post("/api/liens", json=body, headers=headers)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/liens/{ref}/registration", json={"to": "submitted"}, headers=headers)
    assert r.status_code == 200, r.text
    move = {"to": "registered", "registration_number": f"REG-{ref}", "perfected_at": perfected_at}
    r = await client.post(f"/api/liens/{ref}/registration", json=move, headers=headers)
    assert r.status_code == 200, r.text


async def test_asset_page_shows_liens_in_rank_order(client: httpx.AsyncClient, as_role: Any) -> None:
    manager, officer = as_role(Role.ASSET_MANAGER), as_role(Role.CREDIT_OFFICER)
    await add_party(client, manager, "P1", "Acme Holdings")
    await add_asset(
        client, manager, "RE1", kind="real_estate", address="1 Harbour Road", identifiers={"certificate": "SH-0001"}
    )
    r = await client.post("/api/loans", json={"ref": "L1", "borrower_ref": "P1", "currency": "CNY"}, headers=officer)
    assert r.status_code == 201, r.text
    # Created in the opposite order of their perfection, so rank order is not creation order.
    await _registered_lien(client, manager, "LN-LATE", "2024-06-01T09:00:00Z", loan_refs=["L1"], cap="500000.00")
    await _registered_lien(
        client, manager, "LN-EARLY", "2023-01-15T09:00:00Z", holder="Bank of Elsewhere", external_claim="120000.00"
    )
    r = await client.post(
        "/api/liens", json={"ref": "LN-DRAFT", "asset_ref": "RE1", "kind": "pledge", "currency": "CNY"}, headers=manager
    )
    assert r.status_code == 201, r.text

    page = await client.get("/assets/RE1", headers=as_role(Role.DISPOSAL_OFFICER))
    assert page.status_code == 200
    html = page.text
    assert "1 Harbour Road" in html
    assert "SH-0001" in html
    assert "Acme Holdings" in html
    rows = re.findall(r'<tr data-ref="([^"]+)" data-rank="([^"]*)"', html)
    assert rows == [("LN-EARLY", "1"), ("LN-LATE", "2"), ("LN-DRAFT", "3")]
    assert "2023-01-15 09:00 UTC" in html
    assert "Bank of Elsewhere" in html
    assert "CNY 120,000.00" in html
    assert "CNY 500,000.00" in html
    assert 'data-testid="loans-secured"' in html
    assert '<li><a class="ref-link" href="/loans/L1">L1</a></li>' in html  # each loan links to its page


async def test_asset_page_of_asset_without_liens(client: httpx.AsyncClient, as_role: Any) -> None:
    manager = as_role(Role.ASSET_MANAGER)
    await add_party(client, manager, "P1", "Acme Holdings")
    await add_asset(client, manager, "V1")
    r = await client.get("/assets/V1", headers=manager)
    assert r.status_code == 200
    assert 'data-testid="no-liens"' in r.text


async def test_unknown_asset_is_a_404_page(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.get("/assets/NO-SUCH-ASSET", headers=as_role(Role.AUDITOR))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "NO-SUCH-ASSET" in r.text
    assert "Not found" in r.text


# --- coverage, stress and what-if pages ---------------------------------------------------------------

READER_PAGES = ["/coverage", "/coverage/loans", "/coverage/loans/L1"]
SCENARIO_PAGES = ["/coverage/stress", "/coverage/what-if"]
NOT_READERS = sorted(set(Role) - set(REGISTRY_READERS))
NOT_SCENARIO_RUNNERS = sorted(set(Role) - set(SCENARIO_RUNNERS))


@pytest.mark.parametrize(
    ("method", "path"), [("GET", p) for p in READER_PAGES + SCENARIO_PAGES] + [("POST", p) for p in SCENARIO_PAGES]
)
async def test_coverage_pages_send_anonymous_users_to_login(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(
        method, path, data={"by_kind[0].kind": "vehicle", "by_kind[0].change_pct": "-10"} if method == "POST" else None
    )
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.path == "/login"
    if method == "GET":
        assert parse_qs(target.query)["next"] == [path]


@pytest.mark.parametrize("path", READER_PAGES)
async def test_coverage_pages_refuse_roles_that_do_not_read_the_registry(
    client: httpx.AsyncClient, as_role: Any, path: str
) -> None:
    assert NOT_READERS
    for role in NOT_READERS:
        r = await client.get(path, headers=as_role(role))
        assert r.status_code == 403, role
        assert r.headers["content-type"].startswith("text/html")
        assert "Not allowed" in r.text


@pytest.mark.parametrize(("method", "path"), [(m, p) for m in ("GET", "POST") for p in SCENARIO_PAGES])
async def test_scenario_pages_refuse_roles_that_do_not_run_scenarios(
    client: httpx.AsyncClient, as_role: Any, method: str, path: str
) -> None:
    assert Role.AUDITOR in NOT_SCENARIO_RUNNERS and Role.DISPOSAL_OFFICER in NOT_SCENARIO_RUNNERS
    for role in NOT_SCENARIO_RUNNERS:
        r = await client.request(
            method, path, headers=as_role(role), data={"changes[0].type": "release_lien", "changes[0].lien_id": "M1"}
        )
        assert r.status_code == 403, role
        assert r.headers["content-type"].startswith("text/html")
        assert "Not allowed" in r.text


async def test_coverage_pages_open_for_the_roles_allowed(client: httpx.AsyncClient, as_role: Any) -> None:
    for role in REGISTRY_READERS:
        summary = await client.get("/coverage", headers=as_role(role))
        assert summary.status_code == 200, role
        assert (await client.get("/coverage/loans", headers=as_role(role))).status_code == 200, role
        shown = 'href="/coverage/stress"' in summary.text
        assert shown == (role in SCENARIO_RUNNERS), role
        assert ('href="/coverage/what-if"' in summary.text) == shown, role
    for role in SCENARIO_RUNNERS:
        for path in SCENARIO_PAGES:
            assert (await client.get(path, headers=as_role(role))).status_code == 200, (role, path)


async def test_unknown_loan_coverage_is_a_404_page(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.get("/coverage/loans/NO-SUCH-LOAN", headers=as_role(Role.AUDITOR))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "NO-SUCH-LOAN" in r.text


async def test_stress_form_with_a_bad_shock_comes_back_422_with_the_error_beside_it(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    form = {
        "by_kind[1].kind": "real_estate",
        "by_kind[1].change_pct": "-150",
        "as_of": "2026-06-30",
        "by_region[0].region": '{"type": "Point", "coordinates": [121.5, 31.2]}',
        "by_region[0].change_pct": "-10",
        "by_region[0].label": "<b>zone</b>",
    }
    r = await client.post("/coverage/stress", data=form, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 422
    html = r.text
    error = re.search(r'<span class="field-error" id="by_kind-1-change_pct-error"[^>]*>([^<]+)</span>', html)
    assert error and "-150%" in error.group(1)
    typed = r'id="by_kind-1-change_pct" name="by_kind\[1\].change_pct"[^>]*value="-150"[^>]*aria-invalid="true"'
    assert re.search(typed, html)
    assert 'id="by_region-0-region-error"' in html
    assert '<option value="real_estate" selected>' in html
    assert 'value="2026-06-30"' in html
    assert "&lt;b&gt;zone&lt;/b&gt;" in html and "<b>zone</b>" not in html
    assert 'data-testid="stress-results"' not in html


async def test_what_if_with_an_unknown_lien_comes_back_422_naming_the_change(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    form = {
        "changes[2].type": "release_lien",
        "changes[2].lien_id": "NO-SUCH-LIEN",
        "changes[3].type": "capitalise_interest",
    }
    r = await client.post("/coverage/what-if", data=form, headers=as_role(Role.ASSET_MANAGER))
    assert r.status_code == 422
    assert 'id="changes-3-loan_id-error"' in r.text  # the form's own check, before the book is read
    r = await client.post(
        "/coverage/what-if",
        data={k: v for k, v in form.items() if k.startswith("changes[2]")},
        headers=as_role(Role.ASSET_MANAGER),
    )
    assert r.status_code == 422
    error = re.search(r'<span class="field-error" id="changes-2-lien_id-error"[^>]*>([^<]+)</span>', r.text)
    assert error and "NO-SUCH-LIEN" in error.group(1)
    assert 'value="NO-SUCH-LIEN"' in r.text


async def test_fx_rates_travel_with_the_coverage_pages_and_forms(client: httpx.AsyncClient, as_role: Any) -> None:
    headers = as_role(Role.CREDIT_OFFICER)
    r = await client.get("/coverage/loans", params={"fx": "CNY/USD=0.14  HKD/CNY=0.92"}, headers=headers)
    assert r.status_code == 200
    assert 'value="CNY/USD=0.14  HKD/CNY=0.92"' in r.text  # kept in the form
    r = await client.get("/coverage", params={"fx": "CNY/USD=0.14"}, headers=headers)
    assert re.search(r'href="/coverage/loans\?[^"]*fx=CNY%2FUSD%3D0.14"', r.text)  # carried by the links
    r = await client.post(
        "/coverage/stress",
        headers=headers,
        data={"by_kind[0].kind": "vehicle", "by_kind[0].change_pct": "-10", "fx": "CNY/USD=0.14"},
    )
    assert r.status_code == 200
    assert re.search(r'<a href="/coverage\?[^"]*fx=CNY%2FUSD%3D0.14', r.text)  # and by the scenario pages'
    r = await client.get("/coverage", params={"fx": "CNY/USD=0.14 CNY/USD=0.15"}, headers=headers)
    assert r.status_code == 422 and "given twice" in r.text
    form = {"by_kind[0].kind": "vehicle", "by_kind[0].change_pct": "-10", "fx": "CNY/USD=0.14 CNY-USD"}
    r = await client.post("/coverage/stress", data=form, headers=headers)
    assert r.status_code == 422
    error = re.search(r'<span class="field-error" id="fx-error"[^>]*>([^<]+)</span>', r.text)
    assert error and "not a rate" in error.group(1)
    assert 'value="CNY/USD=0.14 CNY-USD"' in r.text


async def test_the_navigation_marks_only_the_page_it_is_on(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.get("/coverage/stress", headers=as_role(Role.CREDIT_OFFICER))
    current = re.findall(r'<a href="([^"]+)" aria-current="page">', r.text)
    assert current == ["/coverage/stress"]
    r = await client.get("/coverage/loans", headers=as_role(Role.CREDIT_OFFICER))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', r.text) == ["/coverage"]


async def test_stress_form_with_a_region_nested_too_deeply_is_422_beside_the_field(
    client: httpx.AsyncClient, as_role: Any
) -> None:
    depth = 1000
    form = {
        "as_of": "2026-06-30",
        "by_region[0].region": '{"type": "Polygon", "coordinates": ' + "[" * depth + "]" * depth + "}",
        "by_region[0].change_pct": "-10",
    }
    r = await client.post("/coverage/stress", data=form, headers=as_role(Role.CREDIT_OFFICER))
    assert r.status_code == 422, r.status_code
    assert 'id="by_region-0-region-error"' in r.text
    assert "nested too deeply" in r.text


async def test_swagger_ui_loads_nothing_from_outside(client: httpx.AsyncClient) -> None:
    """A bank's network is often offline: the API documentation comes from the project's own static files."""
    html = (await client.get("/schema/swagger")).text
    assert "cdn." not in html and "https://" not in html and "http://" not in html
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css"):
        assert f"/static/vendor/{name}" in html
        assert (await client.get(f"/static/vendor/{name}")).status_code == 200
