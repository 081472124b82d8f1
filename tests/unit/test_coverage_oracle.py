"""The coverage engine against its oracle (tests/oracle/coverage_reference.py, a plain reading of DESIGN 5)
on random books (tests/oracle/books.py): keys dense, with gaps or in any order, empty tables, three
currencies with or without their rates, liens of every status, caps, other creditors' claims, shocks and
amounts up to the Int64 limit. The same per-loan rows, the same contributions, or the same refusal."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from polars.testing import assert_frame_equal

from tests.oracle.books import AS_OF, T0, Drawn, books
from tests.oracle.coverage_reference import CONTRIBUTION_COLUMNS, PER_LOAN_COLUMNS, OutputOverflow, reference
from valuation.coverage import BookFrames, CoverageInputError, CoverageParams, compute_coverage, fast
from valuation.coverage.refs import RefBook, key_book

pytestmark = pytest.mark.unit
Outcome = tuple[str, tuple[pl.DataFrame, pl.DataFrame] | None]


def outcome(run: Callable[[], tuple[pl.DataFrame, pl.DataFrame]]) -> Outcome:
    """("ok", frames), or the refusal: its type and the reason before any list of rows ("overflow" for an
    output amount past Int64, which the engine's strict cast and the oracle both refuse)."""
    try:
        return "ok", run()
    except CoverageInputError as exc:
        return f"{type(exc).__name__}: {re.split(r'[:(]', str(exc))[0].strip()}", None
    except (pl.exceptions.InvalidOperationError, OutputOverflow):
        return "overflow", None


def engine(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = compute_coverage(book, params, shocks)
    return result.per_loan.collect(), result.contributions.collect()


def assert_same(got: Outcome, expected: Outcome) -> None:
    assert got[0] == expected[0]
    if got[1] is None or expected[1] is None:
        return
    (loans_a, rows_a), (loans_b, rows_b) = got[1], expected[1]
    assert loans_a.columns == list(PER_LOAN_COLUMNS)
    assert sorted(rows_a.columns) == sorted(CONTRIBUTION_COLUMNS)
    assert_frame_equal(loans_a, loans_b, check_exact=True)
    keys = ["loan_id", "lien_id"]
    assert_frame_equal(rows_a.select(list(CONTRIBUTION_COLUMNS)).sort(keys), rows_b.sort(keys), check_exact=True)


@settings(max_examples=400, deadline=None)
@given(books())
def test_the_engine_is_its_oracle(drawn: Drawn) -> None:
    got = outcome(lambda: engine(drawn.book, drawn.params, drawn.shocks))
    assert_same(got, outcome(lambda: reference(drawn.book, drawn.params, drawn.shocks)))
    if got[0] == "ok" and drawn.magnitude in ("small", "large"):
        assert fast.LAST_RUN["money"] == "Int64"  # realistic amounts never need Int128 money


@settings(max_examples=60, deadline=None)
@given(books())
def test_key_order_changes_no_figure(drawn: Drawn) -> None:
    """The same book with its rows reversed (keys falling) gives the same figures."""
    book = drawn.book
    reversed_book = book.with_frames(
        loans=book.loans.reverse(), assets=book.assets.reverse(), liens=book.liens.reverse()
    )
    got = outcome(lambda: engine(reversed_book, drawn.params, drawn.shocks))
    assert_same(got, outcome(lambda: engine(book, drawn.params, drawn.shocks)))


def _book(
    principals: list[int], market_value: int, haircut: str, extra: dict[str, pl.LazyFrame] | None = None
) -> BookFrames:
    refs = RefBook(
        loans=pl.LazyFrame(
            {
                "loan_id": [f"L{i + 1}" for i in range(len(principals))],
                "borrower_id": "B",
                "currency": "CNY",
                "principal": principals,
                "interest": 0,
                "penalty": 0,
                "fees": 0,
                "status": "performing",
            }
        ),
        assets=pl.LazyFrame({"asset_id": ["A1"], "kind": ["real_estate"]}),
        valuations=pl.LazyFrame(
            {
                "asset_id": ["A1"],
                "valued_on": [date(2026, 1, 1)],
                "market_value": [market_value],
                "currency": ["CNY"],
                "status": ["approved"],
            }
        ),
        policies=pl.LazyFrame(
            {
                "kind": ["real_estate"],
                "haircut": [Decimal(haircut)],
                "revaluation_days": [365],
                "max_ltv": [Decimal("0.7")],
            },
            schema={
                "kind": pl.String,
                "haircut": pl.Decimal(38, 12),
                "revaluation_days": pl.Int64,
                "max_ltv": pl.Decimal(38, 12),
            },
        ),
        liens=pl.LazyFrame(
            {
                "lien_id": ["K1"],
                "asset_id": ["A1"],
                "holder": ["own"],
                "status": ["registered"],
                "perfected_at": [T0],
                "cap": [None],
                "external_claim": [None],
            },
            schema_overrides={"cap": pl.Int64, "external_claim": pl.Int64},
        ),
        lien_loans=pl.LazyFrame(
            {"lien_id": ["K1"] * len(principals), "loan_id": [f"L{i + 1}" for i in range(len(principals))]}
        ),
    )
    book = key_book(refs)
    return book.with_frames(**extra) if extra else book


def test_a_book_past_the_int64_bounds_runs_with_int128_money() -> None:
    book = _book([2**61, 2**61], 2**62, "0.3")
    result = compute_coverage(book, CoverageParams(as_of=AS_OF))
    assert fast.LAST_RUN["money"] == "Int128"  # exposures summing to 2^62 need Int128 sums
    rows = dict(result.per_loan.select("loan_id", "collateral_value").collect().rows())
    value = 2**62 * 7 // 10
    assert rows == {"L1": value // 2, "L2": value - value // 2}
    params = CoverageParams(as_of=AS_OF)
    assert_same(outcome(lambda: engine(book, params, None)), outcome(lambda: reference(book, params)))


def test_a_split_past_int64_keeps_int64_money() -> None:
    book = _book([2**40, 3 * 2**40], 2**41 + 1, "0")
    params = CoverageParams(as_of=AS_OF)
    got = engine(book, params, None)
    assert fast.LAST_RUN["money"] == "Int64"  # share x exposure = 2^81: only the split's product is Int128
    # 2^41 + 1 over 1:3 -> 2^39 + 0.25 and 3 x 2^39 + 0.75: floors 2^39 and 3 x 2^39, the unit to L2.
    assert dict(got[0].select("loan_id", "collateral_value").rows()) == {"L1": 2**39, "L2": 3 * 2**39 + 1}
    assert_same(("ok", got), outcome(lambda: reference(book, params)))


def test_malformed_keys_and_policies_are_refused() -> None:
    book = _book([100], 1000, "0.3")
    params = CoverageParams(as_of=AS_OF)
    twice = book.with_frames(policies=pl.concat([book.policies, book.policies]))
    with pytest.raises(CoverageInputError, match="two policies for asset kind"):
        compute_coverage(twice, params)
    repeated = book.with_frames(loans=pl.concat([book.loans, book.loans]))
    with pytest.raises(CoverageInputError, match="a key is given to two rows"):
        compute_coverage(repeated, params)
    nowhere = book.with_frames(liens=book.liens.with_columns(pl.col("asset_key") + 7))
    with pytest.raises(CoverageInputError, match="liens on assets that are not in the book"):
        compute_coverage(nowhere, params)
    # A link or a valuation naming no row is no part of the book, as a join would read it.
    stray = book.with_frames(
        lien_loans=pl.concat([book.lien_loans, book.lien_loans.with_columns(pl.col("loan_key") + 7)]),
        valuations=pl.concat([book.valuations, book.valuations.with_columns(pl.col("asset_key") + 7)]),
    )
    assert engine(stray, params, None)[0].equals(engine(book, params, None)[0])
