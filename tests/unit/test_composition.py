"""The command line is assembled in one place (app.py) from every package's commands, with every
package's part of the demo in dependency order, so nothing run on its own lacks a package's part."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from app import build_cli, demo_loaders
from registry.cli_support import Composition

pytestmark = pytest.mark.unit


def test_every_package_contributes_its_commands() -> None:
    cli = build_cli()
    assert set(cli.commands) == {
        "migrate",
        "serve",
        "users",
        "audit",
        "parcels",
        "import",
        "export",
        "coverage",
        "backup",
    }
    assert set(cli.commands["users"].commands) == {"add"}  # type: ignore[attr-defined]
    assert set(cli.commands["audit"].commands) == {"verify", "checkpoint"}  # type: ignore[attr-defined]
    assert set(cli.commands["parcels"].commands) == {"rescan"}  # type: ignore[attr-defined]


def test_commands_get_the_composed_lists() -> None:
    cli = build_cli()
    with cli.make_context("collateral", ["migrate"]) as ctx:
        parts = ctx.find_object(Composition)
    assert parts is not None
    assert {f.name for f in parts.book_files()} >= {"parties", "loans", "assets", "liens", "policies", "valuations"}


def test_demo_parts_come_in_dependency_order() -> None:
    loaders = demo_loaders()
    assert [f"{f.__module__}.{f.__name__}" for f in loaders] == [
        "registry.demo.loader.load_demo",
        "valuation.demo.load_valuation_demo",
        "auctions.demo.load_disposal_demo",
    ]


def test_a_command_outside_the_composition_says_so(tmp_path: Path) -> None:
    from registry.cli import registry_commands

    bare = click.Group("bare", commands={c.name: c for c in registry_commands() if c.name})
    result = CliRunner().invoke(bare, ["export", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "part of `collateral`" in result.output
