"""Incremental coverage (valuation.coverage.incremental) against a full recomputation.

A random book with keys in gaps, then a random sequence of the changes the registry makes (a posting, a loan
settled or opened, a valuation, an asset seized, a double-pledge mark, a lien's registration, cap or links, a
new lien); after each one the patched result must equal the engine's result for the whole changed book, frame by
frame, row by row, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from valuation.coverage import BookFrames, CoverageParams, compute_coverage, frames
from valuation.coverage.incremental import Keys, Rows, component, patched_book, recompute
from valuation.services.coverage_runs import _materialised

AS_OF = date(2026, 6, 30)
PARAMS = CoverageParams(as_of=AS_OF)
STATUSES = ("registered", "submitted", "draft", "released")


@dataclass
class State:
    """The book as plain rows by key, easy to change and to turn into frames."""

    loans: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, dict[str, Any]] = field(default_factory=dict)
    values: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    liens: dict[int, dict[str, Any]] = field(default_factory=dict)
    links: dict[int, list[int]] = field(default_factory=dict)
    double: set[int] = field(default_factory=set)

    def frames(self, touched: Keys | None = None) -> dict[str, pl.DataFrame]:
        # An empty Keys (a change that touched nothing) keeps nothing; only None means the whole book.
        keep = (
            Keys(frozenset(self.loans), frozenset(self.assets), frozenset(self.liens)) if touched is None else touched
        )
        loans = [r for k, r in sorted(self.loans.items()) if k in keep.loans]
        assets = [r for k, r in sorted(self.assets.items()) if k in keep.assets]
        values = [v for k, vs in sorted(self.values.items()) if k in keep.assets for v in vs]
        liens = [r for k, r in sorted(self.liens.items()) if k in keep.liens]
        links = [
            {"lien_key": lien, "loan_key": loan}
            for lien, loans_of in sorted(self.links.items())
            for loan in loans_of
            if lien in keep.liens or loan in keep.loans
        ]
        return {
            "loans": pl.DataFrame(loans, schema=frames.LOANS),
            "assets": pl.DataFrame(assets, schema=frames.ASSETS),
            "valuations": pl.DataFrame(values, schema=frames.VALUATIONS),
            "liens": pl.DataFrame(liens, schema=frames.LIENS),
            "lien_loans": pl.DataFrame(links, schema=frames.LIEN_LOANS),
            "double_pledge_assets": pl.DataFrame(
                {"asset_key": sorted(self.double & keep.assets)}, schema=frames.DOUBLE_PLEDGE
            ),
        }

    def book(self) -> BookFrames:
        policies = pl.LazyFrame(
            {"kind": ["real_estate", "vehicle"], "haircut": ["0.30", "0.50"], "revaluation_days": [365, 180]}
            | {"max_ltv": ["0.70", "0.50"]}
        ).with_columns(pl.col("haircut", "max_ltv").cast(frames.RATIO))
        return BookFrames(policies=policies, **{k: v.lazy() for k, v in self.frames().items()}).conformed()


def loan_row(key: int, exposure: int, borrower: int, status: str = "performing") -> dict[str, Any]:
    return {
        "loan_key": key,
        "loan_id": f"L{key:04d}",
        "borrower_id": f"B{borrower}",
        "currency": "CNY",
        "principal": exposure,
        "interest": exposure // 10,
        "penalty": 0,
        "fees": 0,
        "status": status,
    }


def lien_row(key: int, asset: int, own: bool, status: str, cap: int | None, claim: int) -> dict[str, Any]:
    return {
        "lien_key": key,
        "lien_id": f"K{key:04d}",
        "asset_key": asset,
        "holder": "own" if own else "Other Bank",
        "status": status,
        "perfected_at": datetime(2025, 1, 1 + key % 28, tzinfo=UTC) if status == "registered" else None,
        "cap": cap if own else None,
        "external_claim": None if own else claim,
        "expires_on": None,
        "currency": "CNY",
    }


@st.composite
def states(draw: st.DrawFn) -> State:
    state = State()
    # Keys with gaps and not from zero, as database serials after deletes and rolled-back inserts are.
    loan_keys = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=8)))
    asset_keys = sorted(draw(st.sets(st.integers(1, 40), min_size=1, max_size=5)))
    for key in loan_keys:
        state.loans[key] = loan_row(key, draw(st.integers(0, 10**6)), draw(st.integers(1, 3)))
    for key in asset_keys:
        kind = draw(st.sampled_from(["real_estate", "vehicle"]))
        state.assets[key] = {"asset_key": key, "asset_id": f"A{key:04d}", "kind": kind, "status": "active"}
        if draw(st.booleans()) or draw(st.booleans()):
            state.values[key] = [valuation(key, draw(st.integers(0, 3 * 10**6)), date(2026, 1, 1))]
    for key in sorted(draw(st.sets(st.integers(1, 80), min_size=1, max_size=9))):
        own = draw(st.booleans())
        asset = draw(st.sampled_from(asset_keys))
        status = draw(st.sampled_from(STATUSES))
        cap = draw(st.one_of(st.none(), st.integers(0, 10**6)))
        state.liens[key] = lien_row(key, asset, own, status, cap, draw(st.integers(0, 10**6)))
        if own:
            state.links[key] = sorted(draw(st.sets(st.sampled_from(loan_keys), min_size=1, max_size=3)))
    return state


def valuation(asset: int, value: int, on: date) -> dict[str, Any]:
    return {"asset_key": asset, "valued_on": on, "market_value": value, "currency": "CNY", "status": "approved"}


def change(state: State, draw: st.DrawFn) -> Keys:
    """One change the registry makes, applied to state; the keys it touched (as its audit events name them)."""
    loans, assets, liens = sorted(state.loans), sorted(state.assets), sorted(state.liens)
    kind = draw(
        st.sampled_from(
            ["posting", "settle", "new_loan", "valuation", "seize", "double", "register", "cap", "links", "new_lien"]
        )
    )
    if kind == "posting":
        key = draw(st.sampled_from(loans))
        state.loans[key]["principal"] = max(0, state.loans[key]["principal"] + draw(st.integers(-(10**5), 10**5)))
        return Keys(loans=frozenset([key]))
    if kind == "settle":
        key = draw(st.sampled_from(loans))
        state.loans[key]["status"] = draw(st.sampled_from(["settled", "overdue", "performing"]))
        return Keys(loans=frozenset([key]))
    if kind == "new_loan":
        key = max(loans) + draw(st.integers(1, 5))
        state.loans[key] = loan_row(key, draw(st.integers(0, 10**6)), draw(st.integers(1, 4)))
        return Keys(loans=frozenset([key]))
    if kind == "valuation":
        key = draw(st.sampled_from(assets))
        state.values.setdefault(key, []).append(valuation(key, draw(st.integers(0, 3 * 10**6)), date(2026, 3, 1)))
        return Keys(assets=frozenset([key]))
    if kind == "seize":
        key = draw(st.sampled_from(assets))
        state.assets[key]["status"] = draw(st.sampled_from(["seized", "active", "disposed"]))
        return Keys(assets=frozenset([key]))
    if kind == "double":
        # A parcel overlap names both assets; either mark can come or go.
        pair = frozenset(draw(st.sets(st.sampled_from(assets), min_size=1, max_size=2)))
        state.double ^= set(pair)
        return Keys(assets=pair)
    if kind in ("register", "cap"):
        key = draw(st.sampled_from(liens))
        if kind == "register":
            status = draw(st.sampled_from(STATUSES))
            perfected = datetime(2025, 6, 1, tzinfo=UTC) if status == "registered" else None
            state.liens[key].update(status=status, perfected_at=perfected)
        elif state.liens[key]["holder"] == "own":
            state.liens[key]["cap"] = draw(st.one_of(st.none(), st.integers(0, 10**6)))
        else:
            state.liens[key]["external_claim"] = draw(st.integers(0, 10**6))
        return Keys(liens=frozenset([key]))
    if kind == "links":
        own = [k for k in liens if state.liens[k]["holder"] == "own"]
        if not own:
            return Keys()
        key = draw(st.sampled_from(own))
        state.links[key] = sorted(draw(st.sets(st.sampled_from(loans), min_size=1, max_size=3)))
        return Keys(liens=frozenset([key]))
    key = max(liens) + draw(st.integers(1, 5))
    status = draw(st.sampled_from(STATUSES))
    state.liens[key] = lien_row(key, draw(st.sampled_from(assets)), True, status, None, 0)
    state.links[key] = sorted(draw(st.sets(st.sampled_from(loans), min_size=1, max_size=3)))
    return Keys(liens=frozenset([key]))


def assert_same(patched: Any, full: Any) -> None:
    for name in ("per_loan", "portfolio", "per_ltv_bucket", "per_asset_kind", "per_borrower"):
        assert_frame_equal(getattr(patched, name).collect(), getattr(full, name).collect(), check_exact=True)
    # Contributions come in loan order; within a loan they follow the links' order, which a patch does not keep
    # and nothing reads (a loan's explanation sorts them by rank, asset and lien).
    by_loan_and_lien = ("loan_key", "lien_id")
    assert_frame_equal(
        patched.contributions.collect().sort(by_loan_and_lien),
        full.contributions.collect().sort(by_loan_and_lien),
        check_exact=True,
    )
    assert patched.contributions.collect()["loan_key"].is_sorted()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(states(), st.data())
def test_patched_coverage_is_the_full_recomputation_after_every_change(state: State, data: st.DataObject) -> None:
    book = state.book()
    result = _materialised(compute_coverage(book, PARAMS))
    for _ in range(data.draw(st.integers(1, 6))):
        touched = change(state, data.draw)
        rows = state.frames(touched)
        after = patched_book(book, touched, Rows(**rows))
        # The patched book is the changed book, row for row (order within links and valuations aside).
        whole = state.book()
        for name in ("loans", "assets", "liens"):
            assert_frame_equal(getattr(after, name).collect(), getattr(whole, name).collect())
        result = _materialised(recompute(book, after, touched, result, PARAMS, order="loan_id"))
        assert_same(result, _materialised(compute_coverage(whole, PARAMS)))
        book = after


def test_a_component_is_everything_linked_through_shared_assets_and_nothing_else() -> None:
    state = State()
    for key in (1, 2, 3, 4):
        state.loans[key] = loan_row(key, 1000, 1)
    for key in (10, 20):
        state.assets[key] = {"asset_key": key, "asset_id": f"A{key}", "kind": "vehicle", "status": "active"}
    state.liens[100] = lien_row(100, 10, True, "registered", None, 0)
    state.liens[101] = lien_row(101, 10, False, "registered", None, 500)
    state.liens[102] = lien_row(102, 10, True, "registered", None, 0)
    state.liens[200] = lien_row(200, 20, True, "registered", None, 0)
    state.links = {100: [1], 102: [2, 3], 200: [4]}
    book = state.book()
    # Loan 1 reaches loans 2 and 3 through the asset their liens share, and the other creditor's lien on it.
    assert component(book, Keys(loans=frozenset([1]))) == Keys(
        frozenset([1, 2, 3]), frozenset([10]), frozenset([100, 101, 102])
    )
    assert component(book, Keys(assets=frozenset([20]))) == Keys(frozenset([4]), frozenset([20]), frozenset([200]))


@pytest.mark.parametrize("seed", range(3))
def test_a_posting_recomputes_only_its_component(seed: int) -> None:
    """The loans outside the changed component keep their rows as they were (the patch cannot be a disguised
    full recomputation that happens to agree)."""
    state = State()
    for key in range(1, 41):
        state.loans[key] = loan_row(key, 1000 * key + seed, key % 3)
        state.assets[key] = {"asset_key": key, "asset_id": f"A{key}", "kind": "vehicle", "status": "active"}
        state.values[key] = [valuation(key, 5000 + key, date(2026, 1, 1))]
        state.liens[key] = lien_row(key, key, True, "registered", None, 0)
        state.links[key] = [key]
    book = state.book()
    base = _materialised(compute_coverage(book, PARAMS))
    state.loans[7]["principal"] += 500
    touched = Keys(loans=frozenset([7]))
    after = patched_book(book, touched, Rows(**state.frames(touched)))
    assert component(after, touched).loans == frozenset([7])
    # A base whose other rows are marked: the patch must keep them, where a full recomputation would not.
    marked = base.per_loan.with_columns(
        pl.when(pl.col("loan_key") == 7).then(pl.col("exposure")).otherwise(pl.col("exposure") + 1)
    )
    patched = recompute(
        book, after, touched, base.__class__(**{**_fields(base), "per_loan": marked}), PARAMS, "loan_id"
    )
    rows = patched.per_loan.collect()
    assert rows.filter(pl.col("loan_key") == 7)["exposure"].item() == 7000 + seed + 500 + (7000 + seed) // 10
    assert (
        rows.filter(pl.col("loan_key") != 7)["exposure"] == marked.filter(pl.col("loan_key") != 7).collect()["exposure"]
    ).all()


def _fields(result: Any) -> dict[str, Any]:
    return {name: getattr(result, name) for name in result.__slots__}
