"""Every error leaves as RFC 9457 problem+json, and every domain error has one status everywhere: the API
answers PROBLEMS' problem, and the pages (frontend.errors) show the same status and detail as a page.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import date
from typing import Any

from asyncpg.exceptions import DataError, UniqueViolationError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

from registry import dates
from registry.errors import DomainError, InvalidInputError
from registry.money import MoneyError

log = logging.getLogger("registry")


def _domain(exc: DomainError) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=exc.status_code, title=exc.title, detail=exc.detail, extra=exc.extra())


def _validation(exc: ValidationException) -> ProblemDetailsException:
    # Litestar reports a body or parameter that does not decode as 400 with a list of messages; we
    # answer 422 with the same {field, reason} shape the services use, so clients parse one form.
    errors: list[dict[str, Any]] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            field = item.get("key") or item.get("source") or "body"
            errors.append({"field": str(field), "reason": str(item.get("message", ""))})
    if not errors:
        errors.append({"field": "body", "reason": exc.detail})
    return ProblemDetailsException(
        status_code=422,
        title="Invalid input",
        detail="; ".join(f"{e['field']}: {e['reason']}" for e in errors),
        extra={"errors": errors},
    )


def _http(exc: HTTPException) -> ProblemDetailsException:
    extra = exc.extra if isinstance(exc.extra, dict) else None
    return ProblemDetailsException(
        status_code=exc.status_code, title=exc.detail, detail=exc.detail, extra=extra, headers=exc.headers
    )


def _money(exc: MoneyError) -> ProblemDetailsException:
    return ProblemDetailsException(status_code=422, title="Invalid input", detail=str(exc))


def _unique_violation(exc: Exception) -> ProblemDetailsException:
    # Two writers racing to create the same ref both pass the service's existence check; the unique
    # index lets one win and the other lands here. It is the same conflict the check reports.
    detail = getattr(exc, "detail", None) or str(exc)
    return ProblemDetailsException(status_code=409, title="Conflict", detail=f"already exists: {detail}")


def _data_error(exc: DataError) -> ProblemDetailsException:
    # SQLSTATE class 22: a value the database cannot hold (a NUL in text, a number out of range) that
    # slipped past the edge checks, e.g. in a query string. It is the client's input, so 422, not 500.
    return ProblemDetailsException(status_code=422, title="Invalid input", detail=f"a value is not acceptable: {exc}")


def _too_deep(exc: RecursionError) -> ProblemDetailsException:
    # JSON (or GeoJSON inside a form field) nested hundreds deep exhausts the decoder's or a checker's
    # recursion before any of our checks sees it: the input is refused, never a 500.
    log.warning("input refused as nested too deeply: %s", exc)
    reason = "nested too deeply"
    return ProblemDetailsException(
        status_code=422,
        title="Invalid input",
        detail=f"body: {reason}",
        extra={"errors": [{"field": "body", "reason": reason}]},
    )


def _undecodable(exc: UnicodeDecodeError) -> ProblemDetailsException:
    # A multipart form field without a file name is decoded as text by the framework: bytes that are not UTF-8
    # there (a file sent without its filename) are the client's input, not a server failure.
    reason = "a form field is not UTF-8 text (send files with a filename)"
    return ProblemDetailsException(
        status_code=422,
        title="Invalid input",
        detail=f"body: {reason}",
        extra={"errors": [{"field": "body", "reason": reason}]},
    )


def _integrity(exc: sqlite3.IntegrityError) -> ProblemDetailsException:
    if "UNIQUE" in str(exc):
        return _unique_violation(exc)
    log.error("integrity error: %s", exc)
    return ProblemDetailsException(
        status_code=500, title="Internal error", detail="the server failed; nothing was written"
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ProblemDetailsException(
        status_code=500, title="Internal error", detail="the server failed; nothing was written"
    ).to_response(request)


async def reject_nul_in_url(request: Request[Any, Any, Any]) -> None:
    """A NUL byte can name nothing in either database; refuse it the same way on both engines. And an
    `as_of` date (every coverage and worklist route and page takes one) outside the registry's range of
    dates is refused here, once, before a service adds days to it and overflows the calendar."""
    raw_path = request.scope.get("raw_path") or b""
    if "\x00" in request.url.path or b"%00" in raw_path or b"%00" in request.scope.get("query_string", b""):
        raise InvalidInputError.one("url", "the path or query contains a NUL character")
    for text in request.query_params.getall("as_of", []):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue  # not a date at all: the handler's own decoding names it
        if reason := dates.out_of_range(day):
            raise InvalidInputError.one("as_of", reason)


# Each kind of error and the problem it is; a subclass not listed takes its nearest listed base's problem.
PROBLEMS: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    MoneyError: _money,
    UniqueViolationError: _unique_violation,
    DataError: _data_error,
    sqlite3.IntegrityError: _integrity,
    RecursionError: _too_deep,
    UnicodeDecodeError: _undecodable,
}


def problem_for(exc: Exception) -> ProblemDetailsException | None:
    """The problem an error is, found as Litestar finds a handler: by the nearest class in its MRO."""
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls](exc)
    return None


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(enable_for_all_http_exceptions=True, exception_to_problem_detail_map=PROBLEMS)
    )
