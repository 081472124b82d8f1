"""What every package's commands share: running a coroutine, migrating first, and the parts that only
the composition root (app.py) can list, because they come from packages above the registry.

There is no command group here: app.py assembles `collateral` from each package's commands, so no
module holds a command line that silently lacks the commands of the packages above it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from registry.bulk.book import BookFile

T = TypeVar("T")
DemoLoader = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Composition:
    """Lists from every package, handed to the commands as the click context's object."""

    book_files: Callable[[], Sequence[BookFile]]
    demo_loaders: Callable[[], Sequence[DemoLoader]]  # each package's part of the demo, in dependency order


def composition(ctx: click.Context) -> Composition:
    found = ctx.find_object(Composition)
    if found is None:
        raise click.UsageError("this command runs as part of `collateral` (app.cli), which lists every package")
    return found


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def migrate_database() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards("all")
    if not result.success:
        raise click.ClickException(f"migrations failed: {result.message}")
