"""The Litestar application: registry, valuation, auctions and the pages, composed."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import click
from litestar import Litestar, Request, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.stores.memory import MemoryStore

from auctions.background import round_sweeper
from auctions.live import build_channels, channels_middleware
from auctions.router import auctions_router
from frontend.routes import frontend_router, template_config
from registry.auth import PUBLIC, build_jwt_auth, build_login_rate_limit
from registry.bulk.book import BookFile
from registry.bulk.registry_files import registry_book_files
from registry.cli import registry_commands
from registry.cli_support import Composition, DemoLoader
from registry.config import get_settings
from registry.controllers.params import PAGING
from registry.db import engine, is_postgres
from registry.openapi_docs import StrictStructSchemaPlugin
from registry.problems import internal_error_handler, problem_details_plugin, reject_nul_in_url
from registry.router import registry_router
from registry.schemas.misc import Health
from registry.tables import AuditEvent
from valuation.bulk_files import valuation_book_files
from valuation.cli_coverage import coverage_command
from valuation.router import valuation_router

LOGIN_PATHS = frozenset({"/api/auth/login", "/login"})


@asynccontextmanager
async def database_lifespan(_app: Litestar) -> AsyncIterator[None]:
    db = engine()
    if is_postgres():
        await db.start_connection_pool()
        try:
            yield
        finally:
            await db.close_connection_pool()
    else:
        # WAL lets readers proceed while one writer commits; it is a property of the file, set once.
        await AuditEvent.raw("PRAGMA journal_mode=WAL")
        yield


@asynccontextmanager
async def frozen_heap(_app: Litestar) -> AsyncIterator[None]:
    """Move everything loaded at start-up out of the collector's way (gc.freeze): a request that builds tens of
    thousands of objects (a waterfall under thousands of loans) otherwise pays for full collections that walk the
    whole application each time."""
    gc.collect()
    gc.freeze()
    yield


@get("/health", opt=PUBLIC, operation_id="Health", name="health", tags=["health"], security=[])
async def health() -> Health:
    await AuditEvent.raw("SELECT 1")
    return Health(status="ok", database="postgresql" if is_postgres() else "sqlite")


async def _throttle_login(request: Request[Any, Any, Any]) -> bool:
    return request.method == "POST" and request.url.path in LOGIN_PATHS


def book_files() -> list[BookFile]:
    """Every file of the book, from every package that owns some."""
    return [*registry_book_files(), *valuation_book_files()]


def demo_loaders() -> list[DemoLoader]:
    """Each package's part of the demo book, in dependency order: each loads onto what the ones before it
    loaded. Imported only when the demo is asked for."""
    from auctions.demo import load_disposal_demo
    from registry.demo.loader import load_demo
    from valuation.demo import load_valuation_demo

    return [load_demo, load_valuation_demo, load_disposal_demo]


def build_cli() -> click.Group:
    """The `collateral` command: every package's commands, and the lists from every package they need."""
    group = click.Group(
        "collateral",
        help="Collateral and asset-disposal registry.",
        context_settings={"obj": Composition(book_files=book_files, demo_loaders=demo_loaders)},
    )
    for command in (*registry_commands(), coverage_command):
        group.add_command(command)
    return group


def cli() -> None:
    build_cli()()


def create_app(*, round_sweep_seconds: float | None = None) -> Litestar:
    """The app. `round_sweep_seconds` overrides COLLATERAL_ROUND_SWEEP_SECONDS (0: rounds close only when read)."""
    settings = get_settings()
    jwt_auth = build_jwt_auth(settings)
    rate_limit = build_login_rate_limit(settings)
    rate_limit.check_throttle_handler = _throttle_login
    app = Litestar(
        route_handlers=[health, registry_router(), valuation_router(), auctions_router(), frontend_router()],
        # One paging dependency for every list, API and pages alike (a page may provide its own default size).
        dependencies={"paging": PAGING},
        lifespan=[database_lifespan, round_sweeper, frozen_heap],
        plugins=[
            problem_details_plugin(),
            build_channels(os.environ.get("COLLATERAL_REDIS_URL")),
            StrictStructSchemaPlugin(),
        ],
        exception_handlers={Exception: internal_error_handler},
        before_request=reject_nul_in_url,
        on_app_init=[jwt_auth.on_app_init],
        middleware=[channels_middleware, rate_limit.middleware],
        stores={"rate_limit": MemoryStore()},
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="Collateral registry", version="0.1.0", path="/schema", render_plugins=[SwaggerRenderPlugin()]
        ),
    )
    app.state.jwt_auth = jwt_auth
    app.state.book_files = book_files
    app.state.round_sweep_seconds = round_sweep_seconds
    return app


if __name__ == "__main__":
    cli()
