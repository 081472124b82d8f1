"""The benchmark book generator (bench/generate.py) writes exactly the import format of DESIGN section 8."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

pytestmark = pytest.mark.unit

_PATH = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
AMOUNT = r"^\d+\.\d{2}$"
N_LOANS = 2_000


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", _PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load()


@pytest.fixture(scope="module")
def book() -> dict[str, pl.DataFrame]:
    result: dict[str, pl.DataFrame] = gen.generate_book(N_LOANS, seed=3)
    return result


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_and_another_seed_another_book(tmp_path: Path) -> None:
    for fmt in ("csv", "parquet"):
        gen.write_book(gen.generate_book(N_LOANS, seed=3), tmp_path / f"a-{fmt}", fmt)
        gen.write_book(gen.generate_book(N_LOANS, seed=3), tmp_path / f"b-{fmt}", fmt)
        assert _digest(tmp_path / f"a-{fmt}") == _digest(tmp_path / f"b-{fmt}")
        assert sorted(_digest(tmp_path / f"a-{fmt}")) == sorted(f"{name}.{fmt}" for name in gen.FILES)
    assert not gen.generate_book(N_LOANS, seed=4)["loans"].equals(gen.generate_book(N_LOANS, seed=3)["loans"])


def test_files_have_exactly_the_design_columns_as_text(tmp_path: Path, book: dict[str, pl.DataFrame]) -> None:
    assert tuple(book) == ("parties", "loans", "assets", "policies", "valuations", "liens", "lien_loans")
    for name, frame in book.items():
        assert frame.columns == list(gen.COLUMNS[name])
        assert set(frame.dtypes) == {pl.String}
    gen.write_book(book, tmp_path, "csv")
    assert (tmp_path / "liens.csv").read_text().splitlines()[0] == (
        "lien_id,asset_id,kind,holder,status,perfected_at,cap,external_claim"
    )
    back = pl.read_csv(tmp_path / "liens.csv", infer_schema=False)
    assert back.equals(book["liens"])  # empty cells read back as nulls


def test_shape_is_about_eight_rows_per_loan(book: dict[str, pl.DataFrame]) -> None:
    rows = {name: frame.height / N_LOANS for name, frame in book.items()}
    assert rows["loans"] == 1
    assert rows["parties"] == pytest.approx(0.4, abs=0.01)
    assert rows["assets"] == pytest.approx(1.3, abs=0.1)
    assert rows["valuations"] == pytest.approx(2.0, abs=0.2)
    assert rows["liens"] == pytest.approx(1.45, abs=0.1)
    assert rows["lien_loans"] == pytest.approx(1.7, abs=0.15)
    assert book["policies"]["kind"].to_list() == list(gen.ASSET_KINDS)


def test_refs_are_unique_well_formed_and_resolve(book: dict[str, pl.DataFrame]) -> None:
    keys = {"parties": "party_id", "loans": "loan_id", "assets": "asset_id", "liens": "lien_id"}
    for name, key in keys.items():
        assert book[name][key].is_unique().all(), name
    for name, columns in gen.REF_COLUMNS.items():
        for column in columns:
            assert book[name][column].str.contains(REF.pattern).all(), (name, column)
            assert book[name][column].null_count() == 0
    resolves = [
        ("loans", "borrower_id", "parties", "party_id"),
        ("assets", "owner_id", "parties", "party_id"),
        ("valuations", "asset_id", "assets", "asset_id"),
        ("liens", "asset_id", "assets", "asset_id"),
        ("lien_loans", "lien_id", "liens", "lien_id"),
        ("lien_loans", "loan_id", "loans", "loan_id"),
    ]
    for name, column, target, key in resolves:
        assert book[name][column].is_in(book[target][key].implode()).all(), (name, column)
    assert book["lien_loans"].is_unique().all()
    assert book["valuations"].select("asset_id", "valued_on").is_unique().all()


def test_vocabularies(book: dict[str, pl.DataFrame]) -> None:
    vocab = [
        ("parties", "kind", {"individual", "company"}),
        ("loans", "currency", {"CNY", "USD", "HKD"}),
        ("loans", "status", set(gen.LOAN_STATUSES)),
        ("assets", "kind", set(gen.ASSET_KINDS)),
        ("valuations", "method", set(gen.VALUATION_METHODS)),
        ("valuations", "status", {"approved", "submitted", "rejected"}),
        ("liens", "kind", {"mortgage", "max_amount_mortgage", "pledge"}),
        ("liens", "status", {"draft", "submitted", "registered", "released", "rejected", "expired"}),
    ]
    for name, column, allowed in vocab:
        assert set(book[name][column].unique()) == allowed, (name, column)
    assert (
        book["loans"]["currency"].value_counts(normalize=True).filter(pl.col("currency") == "CNY")["proportion"].item()
        > 0.95
    )
    dates = book["valuations"]["valued_on"].str.to_date("%Y-%m-%d")
    assert date(2022, 11, 1) <= dates.min() <= dates.max() < gen.ANCHOR  # type: ignore[operator]


def test_amounts_are_decimal_strings_with_two_places(book: dict[str, pl.DataFrame]) -> None:
    for name, columns in gen.AMOUNT_COLUMNS.items():
        for column in columns:
            values = book[name][column].drop_nulls()
            assert values.str.contains(AMOUNT).all(), (name, column)
    assert (book["loans"]["interest"] == "0.00").mean() > 0.3  # type: ignore[operator]
    assert book["policies"]["haircut"].str.contains(r"^0\.\d{2}$").all()
    assert book["policies"]["max_ltv"].str.contains(r"^0\.\d{2}$").all()
    assert book["policies"]["revaluation_days"].str.contains(r"^\d+$").all()


def test_liens_own_and_other_creditors(book: dict[str, pl.DataFrame]) -> None:
    liens = book["liens"]
    linked = liens["lien_id"].is_in(book["lien_loans"]["lien_id"].implode())
    own = liens["holder"] == "own"
    assert 0.85 < own.mean() < 0.95  # type: ignore[operator]
    assert (linked == own).all()  # every own lien secures a loan, no other creditor's lien does
    assert liens.filter(own)["external_claim"].null_count() == own.sum()
    assert liens.filter(~own)["external_claim"].null_count() == 0
    assert liens.filter(~own)["cap"].null_count() == (~own).sum()
    with_cap = liens["cap"].is_not_null()
    assert (with_cap == (own & (liens["kind"] == "max_amount_mortgage"))).all()
    perfected = liens["status"].is_in(["registered", "released", "expired"])
    assert (liens["perfected_at"].is_not_null() == perfected).all()
    assert liens["perfected_at"].drop_nulls().str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    ties = liens.filter(pl.col("status") == "registered").group_by("asset_id", "perfected_at").len()
    assert (ties["len"] > 1).any()  # some registered liens on one asset share a rank
    per_lien = book["lien_loans"].group_by("lien_id").len()["len"]
    assert per_lien.max() == 3
    secured = book["lien_loans"].join(liens.select("lien_id", "asset_id"), on="lien_id")
    assert (secured.group_by("loan_id").agg(pl.col("asset_id").n_unique())["asset_id"] >= 2).any()


def test_currencies_agree_along_the_links(book: dict[str, pl.DataFrame]) -> None:
    loan_currency = (
        book["lien_loans"]
        .join(book["loans"].select("loan_id", "currency"), on="loan_id")
        .join(book["liens"].select("lien_id", "asset_id"), on="lien_id")
    )
    per_asset = loan_currency.group_by("asset_id").agg(pl.col("currency").n_unique().alias("n"), pl.first("currency"))
    assert (per_asset["n"] == 1).all()
    valued = book["valuations"].join(per_asset, on="asset_id", suffix="_loan")
    assert (valued["currency"] == valued["currency_loan"]).all()


def test_bad_rows_are_exactly_the_reported_cells(book: dict[str, pl.DataFrame]) -> None:
    bad, corruptions = gen.corrupt_book(book, 13, seed=3)
    assert len(corruptions) == 13
    assert {c.problem for c in corruptions} == {
        "unknown borrower ref",
        "negative amount",
        "three decimal places",
        "unknown asset kind",
        "impossible date",
        "duplicate ref",
    }
    reported = {(c.file, c.row, c.column): c for c in corruptions}
    assert len(reported) == 13
    changed = set()
    for name in gen.FILES:
        for column in gen.COLUMNS[name]:
            differs = (bad[name][column] != book[name][column]).fill_null(value=True)
            differs &= ~(bad[name][column].is_null() & book[name][column].is_null())
            changed |= {(name, int(i) + 1, column) for i in differs.arg_true()}
    assert changed == set(reported)
    for (name, row, column), c in reported.items():
        value = bad[name][column][row - 1]
        assert value == c.now
        assert book[name][column][row - 1] == c.was
        if c.problem == "unknown borrower ref":
            assert value not in book["parties"]["party_id"]
        elif c.problem == "negative amount":
            assert value.startswith("-")
        elif c.problem == "three decimal places":
            assert re.fullmatch(r"\d+\.\d{3}", value)
        elif c.problem == "unknown asset kind":
            assert value not in gen.ASSET_KINDS
        elif c.problem == "impossible date":
            assert bad[name][column].slice(row - 1, 1).str.to_date("%Y-%m-%d", strict=False).null_count() == 1
        else:
            assert (bad[name][column] == value).sum() == 2
            assert bad["liens"]["holder"][row - 1] != "own"


def test_cli_prints_the_corrupted_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main([str(tmp_path), "--loans", "300", "--seed", "5", "--format", "csv", "--bad-rows", "6"]) == 0
    out = capsys.readouterr().out
    lines = re.findall(r"^  (\w+), row (\d+), column (\w+): ", out, re.MULTILINE)
    assert len(lines) == 6
    for file, row, column in lines:
        frame = pl.read_csv(tmp_path / f"{file}.csv", infer_schema=False)
        clean = gen.generate_book(300, 5)[file]
        assert frame[column][int(row) - 1] != clean[column][int(row) - 1]
