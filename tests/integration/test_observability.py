"""Observability (issue 13): JSON log lines carrying the request id, X-Request-Id, Prometheus metrics behind the
admin role or a scrape token, and liveness and readiness next to the unchanged /health."""

from __future__ import annotations

import dataclasses
import json
import logging
import re

import pytest
from piccolo.apps.migrations.tables import Migration

from registry.observability import json_formatter
from registry.roles import Role

pytestmark = pytest.mark.integration


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(json_formatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    handler = _Lines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


# --- request ids -----------------------------------------------------------------------------------------------


async def test_a_request_id_is_echoed_or_made(client) -> None:
    r = await client.get("/health", headers={"X-Request-Id": "edge-test-42"})
    assert r.headers["x-request-id"] == "edge-test-42"
    made = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != (await client.get("/health")).headers["x-request-id"]
    # An id that would smuggle text into the log is replaced.
    r = await client.get("/health", headers={"X-Request-Id": "a b\tc" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    # Routes the app does not have, and refusals, carry one too.
    assert "x-request-id" in (await client.get("/no/such/route")).headers
    assert "x-request-id" in (await client.get("/api/auth/me")).headers


async def test_every_line_logged_for_a_request_is_json_with_its_id(client, log_lines) -> None:
    # Nested this deep, the login's body is refused with a warning logged by registry.problems (a stdlib logger),
    # and the request line is logged by structlog: both must be JSON and carry the request's id.
    deep = '{"username": ' + "[" * 5000 + "]" * 5000 + ', "password": "whatever-pass"}'
    r = await client.post(
        "/api/auth/login",
        content=deep,
        headers={"content-type": "application/json", "X-Request-Id": "deep-json-1"},
    )
    assert r.status_code == 422
    ours = [json.loads(line) for line in log_lines if '"deep-json-1"' in line]
    assert {line.get("logger") for line in ours} >= {"registry", "registry.http"}
    for line in log_lines:
        parsed = json.loads(line)  # every line is one JSON object
        if parsed.get("logger", "").startswith("registry"):
            assert parsed["request_id"] == "deep-json-1", parsed
    request_line = next(line for line in ours if line["event"] == "request")
    assert request_line["status"] == 422
    assert request_line["path"] == "/api/auth/login"
    assert request_line["level"] == "info"
    assert request_line["client"] == "127.0.0.1"
    assert isinstance(request_line["duration_ms"], float)


async def test_a_refusal_by_the_edge_is_logged_with_its_id(client, tokens, log_lines) -> None:
    r = await client.post(
        "/api/parties",
        json={"ref": "X1", "name": "N", "kind": "company"},
        headers={
            "Cookie": f"access_token={tokens[Role.ASSET_MANAGER]}",
            "Origin": "https://evil.example",
            "X-Request-Id": "cross-1",
        },
    )
    assert r.status_code == 403
    assert r.headers["x-request-id"] == "cross-1"
    lines = [json.loads(line) for line in log_lines if '"cross-1"' in line]
    assert any(line["event"] == "request" and line["status"] == 403 for line in lines)


# --- metrics ---------------------------------------------------------------------------------------------------


async def test_metrics_are_for_admins(client, as_role) -> None:
    await client.get("/health")
    assert (await client.get("/metrics")).status_code == 401
    for role in set(Role) - {Role.ADMIN}:
        r = await client.get("/metrics", headers=as_role(role))
        assert r.status_code == 403, role
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/metrics", headers=as_role(Role.ADMIN))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    # Litestar's middleware counts per route template, not per URL.
    assert re.search(r'collateral_requests_total\{[^}]*path="/health"[^}]*\} \d', r.text)
    assert "collateral_request_duration_seconds_bucket" in r.text


async def test_a_scraper_reads_metrics_with_the_configured_token(client, app) -> None:
    scraper = {"Authorization": "Bearer scrape-token-0123456789"}
    assert (await client.get("/metrics", headers=scraper)).status_code == 401  # not configured: not a token
    settings = app.state.edge
    app.state.edge = dataclasses.replace(settings, metrics_token="scrape-token-0123456789")
    try:
        assert (await client.get("/metrics", headers=scraper)).status_code == 200
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-wrong"})
        assert wrong.status_code == 401
    finally:
        app.state.edge = settings


async def test_refusals_before_a_handler_are_counted(client, as_role) -> None:
    await client.get("/api/auth/me")  # 401 from the authentication middleware
    r = await client.get("/metrics", headers=as_role(Role.ADMIN))
    assert re.search(r'collateral_requests_refused_total\{status_code="401"\} [1-9]', r.text)


# --- health ----------------------------------------------------------------------------------------------------


async def test_health_stays_as_it_was(client) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["database"] in {"sqlite", "postgresql"}


async def test_live_needs_no_database(client, monkeypatch) -> None:
    import registry.health

    async def broken() -> list[str]:
        raise ConnectionError("database down")

    monkeypatch.setattr(registry.health, "pending_migrations", broken)
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    assert ready.json()["database"] == "unreachable"


async def test_ready_when_every_migration_is_applied_and_not_before(client) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ok"
    assert r.json()["migrations"] > 0
    last = await Migration.select().order_by(Migration.id, ascending=False).first()
    await Migration.delete().where(Migration.id == last["id"])
    try:
        r = await client.get("/health/ready")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["pending_migrations"] == [f"{last['app_name']}:{last['name']}"]
        assert "collateral migrate" in r.json()["detail"]
    finally:
        await Migration.insert(Migration(**{k: v for k, v in last.items() if k != "id"}))
    assert (await client.get("/health/ready")).status_code == 200


async def test_a_bid_writes_no_request_line_unless_asked(client, as_role, log_lines, monkeypatch) -> None:
    """Every bid is kept in the bids table with its answer; the request line of a bid is left out, other routes
    keep theirs, and COLLATERAL_LOG_EVERY_REQUEST brings it back."""
    from registry import observability

    async def bid(request_id: str) -> int:
        r = await client.post(
            "/api/rounds/999/bids",
            json={"amount": "1.00"},
            headers={**as_role(Role.BIDDER), "X-Request-Id": request_id},
        )
        return r.status_code

    def request_lines(request_id: str) -> list[dict]:
        return [json.loads(x) for x in log_lines if f'"{request_id}"' in x and '"request"' in x]

    assert await bid("quiet-bid") == 404
    assert request_lines("quiet-bid") == []
    await client.get("/api/auth/me", headers={**as_role(Role.BIDDER), "X-Request-Id": "loud-me"})
    assert [line["status"] for line in request_lines("loud-me")] == [200]
    monkeypatch.setenv("COLLATERAL_LOG_EVERY_REQUEST", "1")
    observability._log_every_request.cache_clear()
    try:
        assert await bid("loud-bid") == 404
        assert [line["path"] for line in request_lines("loud-bid")] == ["/api/rounds/999/bids"]
    finally:
        monkeypatch.delenv("COLLATERAL_LOG_EVERY_REQUEST")
        observability._log_every_request.cache_clear()
