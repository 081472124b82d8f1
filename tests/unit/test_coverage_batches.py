"""A book computed batch by batch (valuation.coverage.batches) against the same book computed whole.

Batches are whole components of the loan - lien - asset graph; no figure of one reads a row of another, so the
per-loan rows put back together must be the whole book's rows exactly, whatever the batch size, and a refusal
must name what the whole book lacks, not what the first batch lacked.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.unit.test_coverage_incremental import PARAMS, State, lien_row, loan_row, states, valuation
from valuation.coverage import CoverageInputError, compute_coverage
from valuation.coverage.batches import parts, per_loan_in_batches, plan
from valuation.coverage.errors import MissingFxRates

pytestmark = pytest.mark.unit


def _whole(state: State) -> pl.DataFrame:
    return compute_coverage(state.book(), PARAMS).per_loan.collect()


def _batched(state: State, loans_per_batch: int) -> pl.DataFrame:
    pieces = per_loan_in_batches(state.book(), PARAMS, loans_per_batch)
    return pl.concat(pieces).sort("loan_key")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), st.integers(1, 6))
def test_batches_put_together_are_the_whole_book(state: State, loans_per_batch: int) -> None:
    assert_frame_equal(_batched(state, loans_per_batch), _whole(state), check_exact=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), st.integers(1, 6))
def test_every_row_is_in_exactly_one_batch_and_no_component_is_split(state: State, loans_per_batch: int) -> None:
    book = state.book()
    batches = plan(book, loans_per_batch)
    books = list(parts(book, batches))
    assert len(books) == batches.count
    loans = [b.loans.collect()["loan_key"].to_list() for b in books]
    assert sorted(k for keys in loans for k in keys) == sorted(state.loans)
    batch_of_loan = {k: i for i, keys in enumerate(loans) for k in keys}
    for i, part in enumerate(books):
        # A batch is closed: its links reach only its own loans, its liens only its own assets.
        assert {batch_of_loan[k] for k in part.lien_loans.collect()["loan_key"]} <= {i}
        assets = set(part.assets.collect()["asset_key"])
        assert set(part.liens.collect()["asset_key"]) <= assets
        assert set(part.valuations.collect()["asset_key"]) <= assets
    # No batch without a loan (an asset no loan reaches rides with the first), and whole components only: a
    # batch ends where the loans counted so far reach a multiple of the batch size.
    sizes = [len(keys) for keys in loans]
    assert all(size > 0 for size in sizes)
    assert all(sum(sizes[: i + 1]) >= (i + 1) * loans_per_batch for i in range(len(sizes) - 1))


def _state_of_components(count: int) -> State:
    """count components, each a loan with an own lien on an asset of its own."""
    state = State()
    for key in range(1, count + 1):
        state.loans[key] = loan_row(key, 1000 * key, key)
        state.assets[key] = {"asset_key": key, "asset_id": f"A{key:04d}", "kind": "vehicle", "status": "active"}
        state.values[key] = [valuation(key, 3000 * key, date(2026, 1, 1))]
        state.liens[key] = lien_row(key, key, True, "registered", None, 0)
        state.links[key] = [key]
    return state


def test_components_are_packed_in_order_into_batches_of_the_size_asked() -> None:
    state = _state_of_components(10)
    batches = plan(state.book(), 4)
    assert batches.count == 3
    assert batches.loans.to_list() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert batches.assets.to_list() == batches.loans.to_list()


def test_a_component_larger_than_a_batch_stays_whole() -> None:
    state = _state_of_components(6)
    # Loans 1..4 share asset 1 through a second lien each: one component of four loans.
    for key in (2, 3, 4):
        state.liens[100 + key] = lien_row(100 + key, 1, True, "registered", None, 0)
        state.links[100 + key] = [key]
    batches = plan(state.book(), 2)
    assert len(set(batches.loans.to_list()[:4])) == 1
    assert_frame_equal(_batched(state, 2), _whole(state), check_exact=True)


def test_an_empty_book_is_one_empty_batch() -> None:
    state = State()
    batches = plan(state.book(), 3)
    assert batches.count == 1
    assert _batched(state, 3).height == 0 == _whole(state).height


def test_a_refusal_names_what_every_batch_lacks() -> None:
    state = _state_of_components(4)
    state.values[1] = [valuation(1, 5000, date(2026, 1, 1)) | {"currency": "USD"}]
    state.values[4] = [valuation(4, 5000, date(2026, 1, 1)) | {"currency": "EUR"}]
    with pytest.raises(MissingFxRates) as whole:
        _whole(state)
    with pytest.raises(MissingFxRates) as batched:
        _batched(state, 1)
    assert batched.value.pairs == whole.value.pairs == [("EUR", "CNY"), ("USD", "CNY")]


def test_distinct_refusals_of_several_batches_are_all_named() -> None:
    state = _state_of_components(4)
    state.assets[2]["kind"] = "aircraft"  # no policy
    state.values[4] = [valuation(4, 5000, date(2026, 1, 1)) | {"currency": "USD"}]
    with pytest.raises(CoverageInputError) as batched:
        _batched(state, 1)
    assert "aircraft" in str(batched.value)
    assert "USD->CNY" in str(batched.value)


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(CoverageInputError, match="loans_per_batch"):
        plan(_state_of_components(1).book(), 0)
