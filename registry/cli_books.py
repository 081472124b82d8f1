"""`collateral import` and `collateral export`: the whole book as files (DESIGN section 8).

The book's files belong to several packages; the composition root (app.py) puts the list in the
click context (registry.cli_support.Composition), so this module needs to know none of them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from registry.cli_support import composition, migrate_database, run

if TYPE_CHECKING:
    from registry.bulk.book import BookFile


def _book_files(ctx: click.Context) -> Sequence[BookFile]:
    return composition(ctx).book_files()


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--actor", default="cli-import", show_default=True, help="Who the audit log names as the importer.")
@click.option("--timings", is_flag=True, help="Print the seconds each step took.")
@click.pass_context
def import_command(ctx: click.Context, directory: Path, actor: str, timings: bool) -> None:
    """Import the book files in DIRECTORY (CSV or Parquet), all or nothing."""
    from registry.bulk.pipeline import ImportRefused, import_book  # the command's own work: not for --help

    async def import_and_report() -> str:
        await migrate_database()
        result = await import_book(directory, _book_files(ctx), actor)
        steps = [f"  {step}: {seconds:.2f} s" for step, seconds in result.timings] if timings else []
        return "\n".join([result.describe(), *steps])

    try:
        click.echo(run(import_and_report()))
    except ImportRefused as refused:
        for line in refused.lines():
            click.echo(line, err=True)
        click.echo(f"import refused: {refused.errors.height} errors; nothing was written", err=True)
        sys.exit(1)


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.pass_context
def export_command(ctx: click.Context, directory: Path, fmt: str) -> None:
    """Write the seven book files to DIRECTORY, rows sorted by ref."""
    from registry.bulk.pipeline import export_book

    counts = run(export_book(directory, _book_files(ctx), fmt))
    click.echo("exported " + ", ".join(f"{name}: {n} rows" for name, n in counts.items()))
