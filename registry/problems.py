"""Every error leaves as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

from registry.errors import DomainError
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


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ProblemDetailsException(
        status_code=500, title="Internal error", detail="the server failed; nothing was written"
    ).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={
                DomainError: _domain,
                ValidationException: _validation,
                HTTPException: _http,
                MoneyError: _money,
            },
        )
    )
