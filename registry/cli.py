"""The registry's commands of the `collateral` command line (app.py assembles it). Every command reads
DATABASE_URL; errors go to standard error with a non-zero exit status."""

from __future__ import annotations

import os
import sys

import click

from registry.cli_books import export_command, import_command
from registry.cli_parcels import parcels
from registry.cli_support import composition, migrate_database, run
from registry.roles import Role


@click.command()
def migrate() -> None:
    """Apply the database migrations."""
    run(migrate_database())
    click.echo("migrations applied")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load the demo book and one demo user per role first.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes; more than one needs COLLATERAL_REDIS_URL so live bids reach every worker.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, demo: bool, workers: int) -> None:
    """Migrate, then serve the API and the pages."""
    import uvicorn

    async def prepare() -> None:
        await migrate_database()
        if demo:
            # Each package's part of the demo, the registry's first: the composition root lists them.
            for load in composition(ctx).demo_loaders():
                click.echo(await load())

    if workers > 1 and not os.environ.get("COLLATERAL_REDIS_URL"):
        raise click.UsageError(
            "--workers above 1 needs COLLATERAL_REDIS_URL: without Redis a bid taken by one worker would never "
            "reach the live feeds of the others"
        )
    run(prepare())
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="info",
        workers=workers,
        # The app believes X-Forwarded-* only from COLLATERAL_TRUSTED_PROXIES (registry.edge); uvicorn's own
        # handling would trust any loopback peer before the app sees the request.
        proxy_headers=False,
        # The app logs each request once, as JSON with its request id (registry.observability).
        access_log=False,
    )


@click.group()
def users() -> None:
    """Manage users."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
def users_add(name: str, role: str) -> None:
    """Create a user; the password comes from COLLATERAL_PASSWORD or a prompt."""
    from registry.errors import DomainError
    from registry.services.users import create_user

    password = os.environ.get("COLLATERAL_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )

    async def add() -> None:
        await migrate_database()
        await create_user(name, password, Role(role), actor="cli")

    try:
        run(add())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"user {name} added with role {role}")


@click.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain; non-zero at the first broken link."""
    from registry import audit as audit_log

    report = run(audit_log.verify())
    if report.ok:
        click.echo(f"audit chain intact: {report.events} events")
        return
    click.echo(
        f"audit chain broken at event {report.first_broken_seq}: {report.reason} "
        f"({report.events} events verified before it)",
        err=True,
    )
    sys.exit(1)


def registry_commands() -> list[click.Command]:
    return [migrate, serve, users, audit, parcels, import_command, export_command]
