"""Prometheus metrics with Litestar's own middleware, at /metrics.

Who may read them: a scraper presenting COLLATERAL_METRICS_TOKEN as a bearer token (a JWT expires within hours,
a scrape configuration holds a static credential), or an admin with their ordinary login. Nobody else: the
route paths and traffic figures describe the bank's activity. The route is left out of the JWT middleware (a
static token is no JWT) and out of the role guard, and has its own guard that accepts exactly those two.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.security.jwt import Token
from prometheus_client import Counter

from registry.auth import retrieve_user
from registry.edge import SESSION_COOKIE
from registry.edge_settings import EdgeSettings
from registry.roles import ADMINS, Role

PROMETHEUS = PrometheusConfig(
    app_name="collateral-registry",
    prefix="collateral",
    # One series per route, not per URL: /api/loans/{ref} rather than every loan's own.
    group_path=True,
    exclude_unhandled_paths=True,
    exclude=["^/metrics$", "^/static/"],
)

# Litestar's middleware sits inside the authentication and the edge checks, so the requests they refuse
# (401, 403, 413, 415, 429 raised before a handler runs) are counted here instead.
REFUSED = Counter("collateral_requests_refused_total", "Requests refused before reaching a handler", ["status_code"])


async def metrics_guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    settings: EdgeSettings = connection.app.state.edge
    scheme, _, presented = connection.headers.get("authorization", "").partition(" ")
    bearer = presented.strip() if scheme.lower() == "bearer" else ""
    if settings.metrics_token and bearer and hmac.compare_digest(bearer.encode(), settings.metrics_token.encode()):
        return
    encoded = bearer or connection.cookies.get(SESSION_COOKIE, "").split(" ")[-1]
    if not encoded:
        raise NotAuthorizedException(detail="present the metrics token, or sign in as an admin")
    jwt_auth = connection.app.state.jwt_auth
    token = Token.decode(encoded, secret=jwt_auth.token_secret, algorithm=jwt_auth.algorithm)  # 401 if not valid
    user = await retrieve_user(token, connection)
    if user is None:
        raise NotAuthorizedException(detail="sign in first")
    if Role(user.role) not in ADMINS:
        raise PermissionDeniedException(detail=f"role {user.role!r} may not read the metrics; allowed: admin")


class MetricsController(PrometheusController):
    path = "/metrics"
    # "public" to the JWT middleware and the role guard only: metrics_guard is this route's guard.
    opt = {"exclude_from_auth": True, "public": True}
    guards = [metrics_guard]
    include_in_schema = False
