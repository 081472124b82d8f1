"""Structured logs: every line is one JSON object, and every line written while a request is handled carries its
request id (the client's `X-Request-Id` when it sends a sane one, otherwise a new one, echoed on the response).

structlog renders everything, through the standard library's logging: lines of our own `logging.getLogger(...)`
loggers, of Litestar and of uvicorn all reach one handler on stderr whose formatter merges the request's context
(bound with structlog's contextvars) into the line.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from functools import lru_cache
from typing import Any

import structlog
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.logging.config import LoggingConfig, StructlogEventFilter, StructLoggingConfig
from litestar.middleware import ASGIMiddleware
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from registry.health import live, ready
from registry.metrics import PROMETHEUS, REFUSED, MetricsController

REQUEST_ID_HEADER = "x-request-id"
# A client's own id is kept only if it is short and plain: it is written into every log line.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = structlog.get_logger("registry.http")

_PRE_CHAIN: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """The one formatter: a JSON object per line, with the request's context merged in."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_PRE_CHAIN,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            StructlogEventFilter(["color_message"]),  # uvicorn's copy of the message with terminal colours
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )


def _stdlib_config() -> LoggingConfig:
    console = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "json"}
    one_handler = {"level": "INFO", "handlers": ["console"], "propagate": False}
    return LoggingConfig(
        formatters={"json": {"()": json_formatter}, "standard": {"()": json_formatter}},
        handlers={"console": console},
        root={"level": "INFO", "handlers": ["console"]},
        # uvicorn configures its own loggers before it loads the app: these replace its plain-text handlers. Its
        # access log is silenced: RequestContextMiddleware writes the request line, with the request id.
        loggers={
            **{name: dict(one_handler) for name in ("litestar", "uvicorn", "uvicorn.error")},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    )


def logging_plugin() -> StructlogPlugin:
    structured = StructLoggingConfig(
        # structlog's own loggers hand their events to the standard library's handler, which renders them.
        processors=[*_PRE_CHAIN[:-1], structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        standard_lib_logging_config=_stdlib_config(),
        pretty_print_tty=False,
        log_exceptions="never",  # registry.problems logs each unhandled error once, with its request id
    )
    # The request line is written by RequestContextMiddleware below, once per request.
    return StructlogPlugin(StructlogConfig(structlog_logging_config=structured, enable_middleware_logging=False))


def request_id_of(scope: Scope) -> str:
    state: dict[str, Any] = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    if "request_id" not in state:
        incoming = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), "")
        state["request_id"] = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
    return str(state["request_id"])


# Route `opt` of a hot route whose every call is kept in a table of its own (a bid, with its bidder, time, amount and
# answer): its request line is left out unless it failed (status 500). At hundreds of bids a second the line cost a
# sixth of a bid's CPU and said nothing the bids table does not. COLLATERAL_LOG_EVERY_REQUEST=1 writes them all.
QUIET_REQUEST_LINE = {"quiet_request_line": True}


@lru_cache(maxsize=1)
def _log_every_request() -> bool:
    return os.environ.get("COLLATERAL_LOG_EVERY_REQUEST", "").lower() in ("1", "true", "yes")


def _quiet(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return handler is not None and bool(handler.opt.get("quiet_request_line")) and not _log_every_request()


class RequestContextMiddleware(ASGIMiddleware):
    """Binds the request id for every line logged while the request is handled, and logs the request once."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        # Not reset on the way out: an error raised by a middleware is logged by the app's exception handler
        # after this returns, and must carry the id too. Each server task starts with a fresh context.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id_of(scope))
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, capture)
        except Exception as exc:
            # Raised by a middleware (a handler's own errors are answered inside): a refusal, or a failure.
            status = int(getattr(exc, "status_code", None) or 500)  # a bare exception's status_code may be None
            REFUSED.labels(str(status)).inc()
            raise
        finally:
            if status >= 500 or not _quiet(scope):
                log.info(
                    "request",
                    method=scope["method"],  # type: ignore[typeddict-item]  # HTTP scopes only
                    path=scope["path"],
                    status=status,
                    # After the trusted-proxy middleware has run: the client's address, not the proxy's.
                    client=(scope.get("client") or ("", 0))[0],
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


async def echo_request_id(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id_of(scope)


def observability_init(app_config: AppConfig) -> AppConfig:
    """`on_app_init` hook: the request context goes outermost, so even a refusal by the edge is logged with it;
    Litestar's metrics middleware innermost, where the status of every answered request is known."""
    app_config.plugins.append(logging_plugin())
    app_config.middleware.insert(0, RequestContextMiddleware())
    app_config.middleware.append(PROMETHEUS.middleware)
    app_config.route_handlers.extend([live, ready, MetricsController])
    app_config.before_send.append(echo_request_id)
    return app_config
