"""How the pages answer errors: a person gets a page or a redirect, never problem+json.

Status and message come from the API's map (registry.problems), so every error has one status on both:
a refusal of the services is the same 404, 409 or 422 on a page as in the API, and only what the API
answers with 500 is a 500 page.

These are router-level exception handlers of the pages router. Litestar puts the route's resolved
handlers into the scope before running the route's middleware stack, so they also catch the
NotAuthorizedException that the JWT cookie middleware raises before any guard runs.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.exceptions import NotAuthorizedException
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from frontend.templating import layout_context
from registry.problems import PROBLEMS, problem_for

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


def problem_page(request: Request[Any, Any, Any], exc: Exception) -> Template:
    """The API's problem for the error, as a page: the same status and detail, and headers such as the rate
    limiter's Retry-After. An error the API does not know is a 500, logged."""
    problem = problem_for(exc)
    if problem is None or problem.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        log.exception("unhandled error on page %s %s", request.method, request.url.path, exc_info=exc)
        return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, "The server failed; nothing was changed.")
    return error_page(request, problem.status_code, problem.detail, dict(problem.headers or {}))


def page_exception_handlers() -> ExceptionHandlersMap:
    # Every kind the API maps, plus Exception; a missing session is a way to sign in, not an error.
    handlers: ExceptionHandlersMap = dict.fromkeys([*PROBLEMS, Exception], problem_page)
    handlers[NotAuthorizedException] = redirect_to_login
    return handlers
