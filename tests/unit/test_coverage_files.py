"""`coverage --from` reads typed Parquet columns as their types (issue 11): the same export as the text book, no
file hashed, and the refusals as precise as before (file, row, column)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from registry.bulk import checks as c
from registry.bulk import files as bulk_files
from tests.integration.books import small
from valuation.coverage import CoverageInputError, CoverageParams, compute_coverage
from valuation.coverage_files import _scan_parquet, book_from_directory
from valuation.coverage_sources import coverage_export_frame

pytestmark = pytest.mark.unit

AS_OF = date(2025, 12, 31)
MONEY = pl.Decimal(20, 2)


def _text_book(tmp_path: Path) -> Path:
    return small.write(tmp_path / "text")


def _frames(text: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_csv(text / f"{name}.csv", infer_schema=False) for name in small.FILES}


def _typed_book(tmp_path: Path, frames: dict[str, pl.DataFrame], naive_times: bool = False) -> Path:
    """The small book as typed Parquet: decimal amounts, dates, timestamps, decimal ratios, an integer day count."""
    typed = tmp_path / "typed"
    typed.mkdir()
    perfected = c.parse_timestamp("perfected_at")
    casts = {
        "loans": [pl.col(x).cast(MONEY) for x in ("principal", "interest", "penalty", "fees")],
        "policies": [
            pl.col("haircut").cast(pl.Decimal(8, 4)),
            pl.col("max_ltv").cast(pl.Decimal(8, 4)),
            pl.col("revaluation_days").cast(pl.Int32),
        ],
        "valuations": [c.parse_date("valued_on"), pl.col("market_value").cast(MONEY)],
        "liens": [
            perfected.dt.replace_time_zone(None) if naive_times else perfected,
            pl.col("cap").cast(MONEY),
            pl.col("external_claim").cast(MONEY),
        ],
    }
    for name, frame in frames.items():
        frame.with_columns(casts.get(name, [])).write_parquet(typed / f"{name}.parquet")
    return typed


def _export(directory: Path, include_unperfected: bool = False) -> pl.DataFrame:
    params = CoverageParams(as_of=AS_OF, include_unperfected=include_unperfected)
    return coverage_export_frame(compute_coverage(book_from_directory(directory), params).per_loan)


@pytest.mark.parametrize("naive_times", [False, True])
def test_a_typed_parquet_book_gives_the_text_books_export(tmp_path: Path, naive_times: bool) -> None:
    text = _text_book(tmp_path)
    typed = _typed_book(tmp_path, _frames(text), naive_times)
    for include in (False, True):
        assert _export(typed, include).equals(_export(text, include))
    rows = {r["loan_id"]: r for r in _export(typed).to_dicts()}
    assert rows["L1"]["exposure"] == "1001200.50" and rows["L1"]["collateral_value"] == "640153.52"


def test_typed_columns_are_read_as_their_types_not_as_text(tmp_path: Path) -> None:
    typed = _typed_book(tmp_path, _frames(_text_book(tmp_path)))
    loans, _ = _scan_parquet("loans", typed / "loans.parquet")
    liens, _ = _scan_parquet("liens", typed / "liens.parquet")
    valuations, _ = _scan_parquet("valuations", typed / "valuations.parquet")
    assert loans is not None and liens is not None and valuations is not None
    assert loans.collect_schema()["principal"] == MONEY
    assert liens.collect_schema()["cap"] == MONEY
    assert isinstance(liens.collect_schema()["perfected_at"], pl.Datetime)
    assert valuations.collect_schema()["valued_on"] == pl.Date
    # Only the columns the engine reads.
    assert "method" not in valuations.collect_schema()


def test_whole_unit_integer_amounts_and_a_jpy_loan_in_cents(tmp_path: Path) -> None:
    frames = _frames(_text_book(tmp_path))
    # L4 is JPY (no minor digits): 1000000.00 in a two-place decimal column is 1000000 yen.
    typed = _typed_book(tmp_path, frames)
    whole = tmp_path / "whole"
    whole.mkdir()
    for name in small.FILES:
        frame = pl.read_parquet(typed / f"{name}.parquet")
        if name == "valuations":  # 2500000.00, 2400000.00, 30000, 410000.00: all whole
            frame = frame.with_columns(pl.col("market_value").cast(pl.Int64))
        frame.write_parquet(whole / f"{name}.parquet")
    assert _export(whole).equals(_export(typed))
    book = book_from_directory(typed)
    jpy = book.loans.filter(pl.col("loan_id") == "L4").select("principal").collect().item()
    assert jpy == 1_000_000


def test_nothing_the_command_only_reads_is_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _text_book(tmp_path)
    typed = _typed_book(tmp_path, _frames(text))

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed")

    monkeypatch.setattr(bulk_files, "file_digest", no_hashing)
    assert _export(typed).equals(_export(text))


def _refusal(tmp_path: Path, name: str, frame: pl.DataFrame) -> str:
    typed = _typed_book(tmp_path, _frames(_text_book(tmp_path)))
    frame.write_parquet(typed / f"{name}.parquet")
    with pytest.raises(CoverageInputError) as refused:
        book_from_directory(typed)
    return str(refused.value)


def test_a_negative_typed_amount_is_refused_with_its_file_row_and_column(tmp_path: Path) -> None:
    loans = _frames(_text_book(tmp_path))["loans"].with_columns(
        pl.when(pl.col("loan_id") == "L2").then(pl.lit("-1.00")).otherwise(pl.col("penalty")).alias("penalty")
    )
    loans = loans.with_columns(pl.col(x).cast(MONEY) for x in ("principal", "interest", "penalty", "fees"))
    reason = _refusal(tmp_path, "loans", loans)
    assert "loans: row 2, penalty: must not be negative" in reason


def test_more_places_than_the_currency_has_is_refused_with_its_row(tmp_path: Path) -> None:
    frames = _frames(_text_book(tmp_path))
    valuations = frames["valuations"].with_columns(
        c.parse_date("valued_on"),
        pl.when(pl.col("asset_id") == "A3")
        .then(pl.lit("410000.005"))
        .otherwise(pl.col("market_value"))
        .cast(pl.Decimal(20, 3))
        .alias("market_value"),
    )
    reason = _refusal(tmp_path, "valuations", valuations)
    assert reason.endswith("valuations: row 4, market_value: more than 2 decimal places for this currency")
    # Three places in a two-place currency are fine when the third is zero (the rows above 4 passed).
    assert "row 1" not in reason


def test_a_liens_typed_cap_is_judged_in_its_loans_currency(tmp_path: Path) -> None:
    liens = (
        _frames(_text_book(tmp_path))["liens"]
        .with_columns(
            c.parse_timestamp("perfected_at"),
            pl.when(pl.col("lien_id") == "M1").then(pl.lit("800000.001")).otherwise(pl.col("cap")).alias("cap"),
        )
        .with_columns(pl.col("cap").cast(pl.Decimal(20, 3)), pl.col("external_claim").cast(MONEY))
    )
    reason = _refusal(tmp_path, "liens", liens)
    assert reason.endswith("liens: row 1, cap: more than 2 decimal places for this currency")


def test_header_refusals_are_worded_as_before(tmp_path: Path) -> None:
    loans = _frames(_text_book(tmp_path))["loans"].drop("fees").with_columns(pl.lit("x").alias("branch"))
    reason = _refusal(tmp_path, "loans", loans)
    assert "loans: fees: required column is missing" in reason
    assert "loans: branch: unexpected column" in reason


@pytest.mark.parametrize("currencies", [["CNY", "USD"], ["CNY", "JPY", "KWD"], ["JPY"]])
def test_the_export_writes_amounts_as_the_import_reads_them_in_each_currencys_digits(currencies: list[str]) -> None:
    """The export's amounts come from one native decimal cast per digit count; they must read as the text the
    import's formatter writes, for any mix of currencies, and rows come out by loan_id however they came in."""
    amounts = [0, 1, 5, 99, 100, 101, 123456789, 10**15 + 7]
    n = len(amounts) * len(currencies)
    per_loan = pl.DataFrame(
        {
            "loan_id": [f"L{i:03d}" for i in range(n)][::-1],
            "borrower_id": "P1",
            "currency": [cur for cur in currencies for _ in amounts],
            "exposure": amounts * len(currencies),
            "collateral_value": [a // 3 for a in amounts] * len(currencies),
            "covered": [a // 3 for a in amounts] * len(currencies),
            "uncovered": [a - a // 3 for a in amounts] * len(currencies),
            "reachable_value": [a // 2 for a in amounts] * len(currencies),
            "coverage_ratio": 0.5,
            "ltv": 2.0,
            "max_ltv": 0.7,
            "breach": False,
            "stale_valuation": False,
            "no_valuation": False,
            "unperfected": False,
        }
    )
    exported = coverage_export_frame(per_loan)
    assert exported["loan_id"].to_list() == sorted(per_loan["loan_id"].to_list())
    expected = per_loan.sort("loan_id").select(
        c.format_units(pl.col(m), c.minor_digits(pl.col("currency"))).alias(m)
        for m in ("exposure", "collateral_value", "covered", "uncovered", "reachable_value")
    )
    assert exported.select(expected.columns).equals(expected)
    assert "10000000000000.07" in exported["exposure"].to_list() or "CNY" not in currencies


def test_a_liens_currency_is_its_loans_and_a_lien_over_two_currencies_is_refused(tmp_path: Path) -> None:
    text = _text_book(tmp_path)
    book = book_from_directory(text)
    currency = dict(book.liens.select("lien_id", "currency").collect().iter_rows())
    # M1 secures CNY loans, M3 a USD loan; M2 (another creditor's) has no loans: CNY, the default.
    assert (currency["M1"], currency["M2"], currency["M3"]) == ("CNY", "CNY", "USD")
    (text / "lien_loans.csv").write_text(small.FILES["lien_loans"] + "M1,L2\n")
    with pytest.raises(CoverageInputError, match="own liens whose loans are not all in the lien's currency: M1"):
        compute_coverage(book_from_directory(text), CoverageParams(as_of=AS_OF))


def test_a_typed_claim_of_a_lien_without_loans_is_judged_in_the_default_currency(tmp_path: Path) -> None:
    """Every loan in KWD (three places): another creditor's claim has no loans, so it is in CNY (two places), and
    a third place in it is refused, not cut off."""
    frames = _frames(_text_book(tmp_path))
    frames["loans"] = frames["loans"].with_columns(pl.lit("KWD").alias("currency"))
    frames["valuations"] = frames["valuations"].with_columns(pl.lit("KWD").alias("currency"))
    typed = _typed_book(tmp_path, frames)
    liens = pl.read_parquet(typed / "liens.parquet").with_columns(
        pl.when(pl.col("lien_id") == "M2")
        .then(pl.lit("300000.005"))
        .otherwise(pl.col("external_claim").cast(pl.String))
        .cast(pl.Decimal(20, 3))
        .alias("external_claim"),
        pl.col("cap").cast(pl.Decimal(20, 3)),
    )
    liens.write_parquet(typed / "liens.parquet")
    with pytest.raises(CoverageInputError) as refused:
        book_from_directory(typed)
    assert str(refused.value).endswith("liens: row 2, external_claim: more than 2 decimal places for this currency")
