"""The registry's commands of the `collateral` command line (app.py assembles it). Every command reads
DATABASE_URL; errors go to standard error with a non-zero exit status."""

from __future__ import annotations

import os
import socket
import sys

import click

from registry.cli_backup import backup_command
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
    config = uvicorn.Config(
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
    if workers == 1:
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[tcp_socket(config.bind_socket())]).run()


def tcp_socket(bound: socket.socket) -> socket.socket:
    """The workers' shared listening socket, marked as TCP. uvicorn binds it with protocol 0, and asyncio turns
    Nagle's algorithm off (TCP_NODELAY) only on connections whose socket says TCP: every answer written in two
    parts (headers, then body) then waited for the client's delayed ACK, 40 ms on each request."""
    return socket.socket(bound.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=bound.detach())


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
@click.option(
    "--since",
    "since",
    metavar="CHECKPOINT",
    help="A checkpoint (SEQ:HASH) from `collateral audit checkpoint`: also fail unless the chain still reaches it.",
)
def audit_verify(since: str | None) -> None:
    """Check the audit hash chain; non-zero at the first broken link, or when the checkpoint is not reached."""
    from registry import audit as audit_log

    try:
        checkpoint = audit_log.Checkpoint.parse(since) if since is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    report = run(audit_log.verify(since=checkpoint))
    legacy = f" ({report.unkeyed_events} from before keyed hashes)" if report.unkeyed_events else ""
    if report.ok:
        reached = f", reaches checkpoint {checkpoint.seq}" if checkpoint else ""
        click.echo(f"audit chain intact: {report.events} events{legacy}{reached}")
        return
    where = f" at event {report.first_broken_seq}" if report.first_broken_seq is not None else ""
    click.echo(
        f"audit chain broken{where}: {report.reason} ({report.events} events verified before it{legacy})",
        err=True,
    )
    sys.exit(1)


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the chain's head as SEQ:HASH. Keep it outside the database (a ticket, a signed mail, another
    system); `collateral audit verify --since` it later proves no event up to it was removed or rewritten."""
    from registry import audit as audit_log

    click.echo(str(run(audit_log.checkpoint())))


def registry_commands() -> list[click.Command]:
    return [migrate, serve, users, audit, parcels, import_command, export_command, backup_command]
