"""The DuckDB peer of bench/coverage.py (bench/coverage_duckdb.sql) computes what the engine computes, so the bench's
ratio compares like with like. DuckDB is a benchmark dependency (`pip install -e '.[bench]'`): without it these
tests are skipped; bench/coverage.py checks the same on every run."""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from registry.bulk import checks as c
from valuation.coverage import CoverageParams, compute_coverage
from valuation.coverage_files import book_from_directory
from valuation.coverage_sources import coverage_export_frame

pytestmark = pytest.mark.unit
pytest.importorskip("duckdb")

BENCH = Path(__file__).resolve().parents[2] / "bench"
AS_OF = date(2026, 11, 28)
FX = ["USD/CNY=7.1", "HKD/CNY=0.92"]
COMPARED = ("exposure", "collateral_value", "covered", "uncovered", "reachable_value")


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    generate = _module("generate")
    directory = tmp_path_factory.mktemp("book")
    generate.write_book(generate.typed(generate.generate_book(3000, seed=7)), directory, "parquet")
    return directory


@pytest.mark.parametrize("include_unperfected", [False, True])
def test_the_peer_gives_every_loan_the_engines_amounts_and_breach(
    book: Path, tmp_path: Path, include_unperfected: bool
) -> None:
    peer = _module("coverage_duckdb")
    out = tmp_path / "peer.parquet"
    assert peer.run(book, AS_OF, out, FX, include_unperfected, threads=None) == 0
    rates = {("USD", "CNY"): Decimal("7.1"), ("HKD", "CNY"): Decimal("0.92")}
    params = CoverageParams(as_of=AS_OF, include_unperfected=include_unperfected, fx_rates=rates)
    export = coverage_export_frame(compute_coverage(book_from_directory(book), params).per_loan)
    digits = c.minor_digits(pl.col("currency"))
    engine = export.select("loan_id", *(c.to_minor_units(m, digits).alias(m) for m in COMPARED), "breach")
    found = pl.read_parquet(out).select("loan_id", *COMPARED, "breach")
    assert found["loan_id"].to_list() == engine["loan_id"].to_list()  # rows by loan_id, the same loans
    assert found.equals(engine)
    # The book exercises what the peer must get right: collateral split over several loans, breaches both ways.
    assert 0 < engine["breach"].sum() < engine.height
    assert engine.filter(pl.col("collateral_value") > 0).height > engine.height // 2


def test_the_peer_refuses_a_book_whose_rates_are_missing(book: Path, tmp_path: Path) -> None:
    peer = _module("coverage_duckdb")
    assert peer.run(book, AS_OF, tmp_path / "peer.parquet", FX[:1], False, threads=None) == 1
