"""The HTTP edge: what every request passes before a handler and every response carries on its way out.

- Forwarded headers (client address, scheme) are believed only from COLLATERAL_TRUSTED_PROXIES, by uvicorn's own
  ProxyHeadersMiddleware run inside the app, so the login rate limit counts real clients whatever server runs it.
- A write that carries the session cookie must come from this site (registry.cross_site).
- A JSON route of the API takes only an `application/json` body: a `text/plain` or bodiless-typed form post is
  what another site can send without a preflight.
- One body limit per route: a small default here, larger ones declared by the upload handlers themselves.
- Security headers on every response, 404s and errors included (a `before_send` hook sees them all).
"""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers.http_handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware, DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from registry.cross_site import cross_site_refusal, own_origin
from registry.edge_settings import EdgeSettings, edge_settings

MiB = 1024 * 1024
# Every route without a limit of its own: JSON and form bodies are small (a parcel's outline is the largest).
DEFAULT_BODY_LIMIT = 1 * MiB
SESSION_COOKIE = "access_token"
SIGN_IN_PATHS = frozenset({"/login", "/api/auth/login"})

# The pages load only this site's scripts, styles and images (htmx, Chart.js and our own files are served from
# /static; data for scripts travels in <script type="application/json">, which is not executed).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API documentation is Litestar's Swagger UI page: an inline bootstrap script and the UI from a
# CDN. It shows no customer data, and is the one place that needs them.


def page_csp(map_tile_url: str | None) -> str:
    """PAGE_CSP, with the configured map tile server's origin added to img-src (tiles are images)."""
    if not map_tile_url:
        return PAGE_CSP
    parts = urlsplit(map_tile_url)
    return PAGE_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {parts.scheme}://{parts.netloc}", 1)


# Swagger UI comes from our own static files (frontend.api_docs); its page starts it with an inline script.
SCHEMA_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class UnsupportedMediaType(ClientException):
    status_code = 415
    detail = "Unsupported media type"


def settings_of(scope: Scope) -> EdgeSettings:
    settings: EdgeSettings = scope["litestar_app"].state.edge
    return settings


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _has_session_cookie(scope: Scope) -> bool:
    cookie = _header(scope, b"cookie") or ""
    return any(part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookie.split(";"))


@cache
def json_body_expected(handler: HTTPRouteHandler) -> bool:
    """Whether the handler decodes its `data` as JSON (the default for a `data` parameter without Body(...))."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return bool(media_type == RequestEncodingType.JSON)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class EdgeGuardMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        settings = settings_of(scope)
        method = scope["method"]  # type: ignore[typeddict-item]  # HTTP scopes only (scopes above)
        refusal = cross_site_refusal(
            method=method,
            # A sign-in counts too: another site must not sign a visitor in to an account of its choosing.
            cookie_session=(_has_session_cookie(scope) or scope["path"] in SIGN_IN_PATHS)
            and _header(scope, b"authorization") is None,
            origin=_header(scope, b"origin"),
            fetch_site=_header(scope, b"sec-fetch-site"),
            own=own_origin(scope["scheme"], _header(scope, b"host")),
            allowed=settings.allowed_origins,
        )
        if refusal:
            raise PermissionDeniedException(detail=refusal)
        await next_app(scope, receive, send)


async def refuse_unexpected_body(request: Request[Any, Any, Any]) -> None:
    """Before the handler and after the guards (a caller who may not call the route learns that first): a body
    over the route's limit, announced by its Content-Length, and a JSON route's body of another type."""
    handler = request.route_handler
    limit = handler.resolve_request_max_body_size()
    length = request.headers.get("content-length", "")
    if limit and length.isdigit() and int(length) > limit:
        raise RequestEntityTooLarge(detail=f"the body is larger than this route's limit of {_size(limit)}")
    if request.url.path.startswith("/api/") and json_body_expected(handler):
        content_type = request.headers.get("content-type")
        if not _is_json(content_type):
            raise UnsupportedMediaType(
                detail=f"content type {content_type or '(none)'!r} is not accepted here: send application/json"
            )


def _chain_before_request(earlier: Any) -> Any:
    async def before_request(request: Request[Any, Any, Any]) -> Any:
        await refuse_unexpected_body(request)
        if earlier is None:
            return None
        answer = earlier(request)
        return await answer if inspect.isawaitable(answer) else answer

    return before_request


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit:,} bytes"


async def security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    headers["content-security-policy"] = (
        SCHEMA_CSP if scope.get("path", "").startswith("/schema") else page_csp(edge_settings().map_tile_url)
    )


def proxy_headers(trusted: tuple[str, ...]) -> DefineMiddleware:
    return DefineMiddleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))  # type: ignore[arg-type]


def edge_init(app_config: AppConfig) -> AppConfig:
    """`on_app_init` hook: runs after the JWT auth's, so its middleware goes outside the authentication's and
    refuses a cross-site write before anything else looks at it."""
    settings = edge_settings()
    app_config.state["edge"] = settings
    front: list[Any] = [EdgeGuardMiddleware()]
    if settings.trusted_proxies:
        front.insert(0, proxy_headers(settings.trusted_proxies))
    app_config.middleware[:0] = front
    app_config.before_send.append(security_headers)
    # The app's own before_request hook (registry.problems.reject_nul_in_url) still runs, after this one.
    app_config.before_request = _chain_before_request(app_config.before_request)
    return app_config


def is_secure_request(scope: Scope) -> bool:
    """Whether the session cookie must be marked Secure: configured so, or the request came over HTTPS (as seen
    directly, or as a trusted proxy reported it)."""
    return settings_of(scope).secure_cookies or scope.get("scheme") in {"https", "wss"}
