"""`collateral backup FILE` (registry.backup)."""

from __future__ import annotations

from pathlib import Path

import click

from registry.backup import BackupError, backup
from registry.config import get_settings


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup_command(file: Path, force: bool) -> None:
    """Copy the database to FILE while the service runs: SQLite's online backup, or pg_dump's custom format
    for PostgreSQL. Keep the audit key and the documents directory as well: they are not in the database."""
    try:
        click.echo(backup(get_settings(), file, overwrite=force))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
