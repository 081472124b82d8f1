"""The `collateral` command line. Every command reads DATABASE_URL; errors go to standard error with
a non-zero exit status."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable
from typing import TypeVar

import click

from registry.cli_parcels import parcels
from registry.roles import Role

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def migrate_database() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards("all")
    if not result.success:
        raise click.ClickException(f"migrations failed: {result.message}")


@click.group()
def main() -> None:
    """Collateral and asset-disposal registry."""


@main.command()
def migrate() -> None:
    """Apply the database migrations."""
    _run(migrate_database())
    click.echo("migrations applied")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load the demo book and one demo user per role first.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, demo: bool) -> None:
    """Migrate, then serve the API and the pages."""
    import uvicorn

    async def prepare() -> None:
        await migrate_database()
        if demo:
            from registry.demo.loader import load_demo

            click.echo(await load_demo())
            # Packages above the registry add their part of the demo (the composition root lists them).
            for extra in (ctx.obj or {}).get("demo_loaders", []):
                click.echo(await extra())

    _run(prepare())
    uvicorn.run("app:create_app", factory=True, host=host, port=port, log_level="info")


@main.group()
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
        _run(add())
    except DomainError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"user {name} added with role {role}")


@main.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain; non-zero at the first broken link."""
    from registry import audit as audit_log

    report = _run(audit_log.verify())
    if report.ok:
        click.echo(f"audit chain intact: {report.events} events")
        return
    click.echo(
        f"audit chain broken at event {report.first_broken_seq}: {report.reason} "
        f"({report.events} events verified before it)",
        err=True,
    )
    sys.exit(1)


main.add_command(parcels)
