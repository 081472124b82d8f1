"""The composition root: the `collateral` command and the Litestar application, each assembled from every
package's parts.

Only click is imported at the top: `collateral --help` and every command import just what they use (a command
imports its own work when it runs), and the web application's modules are imported by `create_app`, which only
the server and the tests call."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from registry.cli_support import Composition, DemoLoader

if TYPE_CHECKING:
    from litestar import Litestar

    from registry.bulk.book import BookFile


def book_files() -> list[BookFile]:
    """Every file of the book, from every package that owns some."""
    from registry.bulk.registry_files import registry_book_files
    from valuation.bulk_files import valuation_book_files

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
    from registry.cli import registry_commands
    from valuation.cli_coverage import coverage_command

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
    import os

    from litestar import Litestar
    from litestar.openapi import OpenAPIConfig

    from auctions.background import round_sweeper
    from auctions.live import build_channels, channels_middleware
    from auctions.router import auctions_router
    from frontend.api_docs import swagger_ui
    from frontend.routes import frontend_router, template_config
    from registry.auth import build_jwt_auth, build_login_rate_limit, throttle_login
    from registry.config import get_settings
    from registry.controllers.params import PAGING
    from registry.edge import DEFAULT_BODY_LIMIT, edge_init
    from registry.edge_settings import edge_settings
    from registry.health import health
    from registry.lifespan import database_lifespan, frozen_heap
    from registry.observability import observability_init
    from registry.openapi_docs import StrictStructSchemaPlugin
    from registry.problems import internal_error_handler, problem_details_plugin, reject_nul_in_url
    from registry.router import registry_router
    from registry.stores import build_stores
    from valuation.router import valuation_router

    settings = get_settings()
    jwt_auth = build_jwt_auth(settings)
    rate_limit = build_login_rate_limit(settings)
    rate_limit.check_throttle_handler = throttle_login
    app = Litestar(
        route_handlers=[health, registry_router(), valuation_router(), auctions_router(), frontend_router()],
        # One paging dependency for every list, API and pages alike (a page may provide its own default size).
        dependencies={"paging": PAGING},
        lifespan=[database_lifespan, round_sweeper, frozen_heap],
        plugins=[
            problem_details_plugin(),
            build_channels(os.environ.get("COLLATERAL_REDIS_URL")),
            StrictStructSchemaPlugin(),  # the document says which bodies refuse unknown fields
        ],
        exception_handlers={Exception: internal_error_handler},
        before_request=reject_nul_in_url,
        # Order matters: each hook puts its middleware in front of the ones before it (registry.edge).
        on_app_init=[jwt_auth.on_app_init, edge_init, observability_init],
        middleware=[channels_middleware, rate_limit.middleware],
        stores=build_stores(edge_settings()),
        request_max_body_size=DEFAULT_BODY_LIMIT,  # upload routes declare their own (docs/operations.md)
        template_config=template_config(),
        openapi_config=OpenAPIConfig(
            title="Collateral registry", version="0.1.0", path="/schema", render_plugins=[swagger_ui()]
        ),
    )
    app.state.jwt_auth = jwt_auth
    app.state.book_files = book_files
    app.state.round_sweep_seconds = round_sweep_seconds
    return app


if __name__ == "__main__":
    cli()
