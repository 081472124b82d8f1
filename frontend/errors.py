"""How the pages answer errors: a person gets a page or a redirect, never problem+json.

These are router-level exception handlers of the pages router. Litestar puts the route's resolved
handlers into the scope before running the route's middleware stack, so they also catch the
NotAuthorizedException that the JWT cookie middleware raises before any guard runs.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from frontend.templating import layout_context
from registry.errors import DomainError

log = logging.getLogger("frontend")

LOGIN_PATH = "/login"

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Something went wrong",
}


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    # Exception handlers get the app's plain Request class, so read the header rather than request.htmx.
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None) -> str | None:
    """A post-login destination, only if it is a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in target):
        # Browsers drop tabs and newlines from URLs, so "/\t/evil.example" would become "//evil.example".
        return None
    if target.startswith(LOGIN_PATH):
        return None
    return target


def _here(request: Request[Any, Any, Any]) -> str:
    if is_htmx(request) and (current := request.headers.get("hx-current-url")):
        # The partial's URL is not a page to come back to; the page the user was on is.
        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def redirect_to_login(request: Request[Any, Any, Any], _exc: NotAuthorizedException) -> Response[Any]:
    destination = safe_next(_here(request))
    params = {"next": destination} if destination and destination != "/" else {}
    if is_htmx(request):
        # A 303 would be followed inside the XHR and the login form swapped into the table.
        target = LOGIN_PATH + (f"?{urlencode(params)}" if params else "")
        response: Response[Any] = ClientRedirect(redirect_to=target)
    else:
        response = Redirect(path=LOGIN_PATH, query_params=params, status_code=HTTP_303_SEE_OTHER)
    jwt_auth = request.app.state.jwt_auth
    if jwt_auth.key in request.cookies:
        # An expired or forged token: drop it so the browser stops sending it.
        response.delete_cookie(jwt_auth.key, path=jwt_auth.path, domain=jwt_auth.domain)
    return response


def error_page(
    request: Request[Any, Any, Any], status_code: int, detail: str, headers: dict[str, str] | None = None
) -> Template:
    return Template(
        template_name="error.html",
        context={
            **layout_context(request),
            "status_code": status_code,
            "title": TITLES.get(status_code, "Error"),
            "detail": detail,
        },
        status_code=status_code,
        headers=headers,
    )


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    # Keeps headers such as the rate limiter's Retry-After.
    return error_page(request, exc.status_code, exc.detail, dict(exc.headers or {}))


def validation_error_page(request: Request[Any, Any, Any], exc: ValidationException) -> Template:
    items = exc.extra if isinstance(exc.extra, list) else []
    reasons = [f"{i.get('key', 'input')}: {i.get('message', '')}" for i in items if isinstance(i, dict)]
    return error_page(request, 400, "; ".join(reasons) or exc.detail)


def domain_error_page(request: Request[Any, Any, Any], exc: DomainError) -> Template:
    return error_page(request, exc.status_code, exc.detail)


def internal_error_page(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.exception("unhandled error on page %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, "The server failed; nothing was changed.")


def page_exception_handlers() -> ExceptionHandlersMap:
    return {
        NotAuthorizedException: redirect_to_login,
        ValidationException: validation_error_page,
        HTTPException: http_error_page,
        DomainError: domain_error_page,
        Exception: internal_error_page,
    }
