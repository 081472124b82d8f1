"""A book computed a part at a time: for books whose working set would not fit in memory at once.

Under DESIGN 5 a loan's coverage depends only on its liens, their assets, every lien on those assets and those
liens' loans (ranks share an asset's value, a lien's share is split among its loans). Following that relation to
its end gives the book's connected components (loans and assets, linked by liens): no number in one component
reads a row of another, so components can be computed apart and their per-loan rows put together unchanged.
Components are packed, in their order, into batches of about `loans_per_batch` loans (a component is never
split, so a batch holds more when one component alone is larger); each batch is a book of its own for
compute_coverage. The components are found once, by scipy's connected_components over the loan-asset links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from valuation.coverage.engine import compute_coverage
from valuation.coverage.errors import CoverageInputError, MissingFxRates
from valuation.coverage.frames import BookFrames, CoverageParams

BATCH = "_batch"


@dataclass(frozen=True, slots=True)
class Batches:
    """Each loan's and each asset's batch (aligned with the book's loans and assets frames) and how many."""

    loans: pl.Series
    assets: pl.Series
    count: int


def _positions(keys: pl.Series, name: str) -> pl.DataFrame:
    return pl.DataFrame({name: keys, "_pos": pl.arange(0, len(keys), dtype=pl.Int64, eager=True)})


def plan(book: BookFrames, loans_per_batch: int) -> Batches:
    """Label the components and pack them into batches of about loans_per_batch loans."""
    if loans_per_batch < 1:
        raise CoverageInputError("loans_per_batch must be at least 1")
    loans, assets, liens, links = pl.collect_all(
        [
            book.loans.select("loan_key"),
            book.assets.select("asset_key"),
            book.liens.select("lien_key", "asset_key"),
            book.lien_loans.select("lien_key", "loan_key"),
        ]
    )
    n_loans, n_assets = loans.height, assets.height
    # Loans are nodes 0..n_loans-1 and assets follow them; a lien links its asset to each of its loans.
    edges = (
        links.lazy()
        .join(liens.lazy(), on="lien_key")
        .join(_positions(loans["loan_key"], "loan_key").lazy(), on="loan_key")
        .join(_positions(assets["asset_key"], "asset_key").lazy().rename({"_pos": "_asset_pos"}), on="asset_key")
        .select("_pos", pl.col("_asset_pos") + n_loans)
        .collect()
    )
    n = n_loans + n_assets
    labels = np.zeros(0, dtype=np.int32)
    if n:
        graph = coo_matrix(
            (np.ones(edges.height, dtype=np.int8), (edges["_pos"].to_numpy(), edges["_asset_pos"].to_numpy())),
            shape=(n, n),
        )
        del edges
        _, labels = connected_components(graph, directed=False)
        del graph
    # A component's batch: the loans of the components before it, in whole batches.
    loans_in = np.bincount(labels[:n_loans], minlength=int(labels.max(initial=-1)) + 1)
    starts_in = (np.cumsum(loans_in) - loans_in) // loans_per_batch
    # Numbered densely: a component larger than a batch would otherwise leave empty batch numbers behind it.
    # Assets no loan reaches ride with the first batch (they change no loan's figures).
    reaches_loans = loans_in > 0
    batch_of = np.zeros_like(starts_in)
    batch_of[reaches_loans] = np.unique(starts_in[reaches_loans], return_inverse=True)[1]
    batch = pl.Series(BATCH, batch_of[labels], dtype=pl.UInt32)
    return Batches(
        loans=batch.slice(0, n_loans),
        assets=batch.slice(n_loans, n_assets),
        count=max(1, int(batch_of.max(initial=-1)) + 1),  # an empty book is one (empty) batch
    )


def parts(book: BookFrames, batches: Batches) -> Iterator[BookFrames]:
    """Each batch as a book of its own: every frame filtered to the batch's loans and assets. Only each row's batch
    number is added up front (a column, not a copy of the book), so the book is held once beside one batch."""
    names = ("loans", "assets", "valuations", "liens", "lien_loans", "double_pledge_assets")
    frames = dict(zip(names, pl.collect_all([getattr(book, name) for name in names]), strict=True))
    by_asset = pl.DataFrame({"asset_key": frames["assets"]["asset_key"], BATCH: batches.assets}).lazy()
    by_loan = pl.DataFrame({"loan_key": frames["loans"]["loan_key"], BATCH: batches.loans}).lazy()

    def batch_of(name: str, key: str, by: pl.LazyFrame) -> pl.LazyFrame:
        return frames[name].lazy().select(key).join(by, on=key, how="left", maintain_order="left").select(BATCH)

    found = pl.collect_all(
        [
            batch_of("valuations", "asset_key", by_asset),
            batch_of("liens", "asset_key", by_asset),
            batch_of("lien_loans", "loan_key", by_loan),
            batch_of("double_pledge_assets", "asset_key", by_asset),
        ]
    )
    batch = {"loans": batches.loans, "assets": batches.assets} | {
        name: frame[BATCH]
        for name, frame in zip(("valuations", "liens", "lien_loans", "double_pledge_assets"), found, strict=True)
    }
    for b in range(batches.count):
        yield book.with_frames(**{name: frames[name].filter(batch[name] == b).lazy() for name in names})


def _merged(refusals: list[CoverageInputError]) -> CoverageInputError:
    """One refusal for the whole book: the fx pairs every batch missed, else each distinct reason once."""
    pairs = [pair for r in refusals if isinstance(r, MissingFxRates) for pair in r.pairs]
    others = [str(r) for r in refusals if not isinstance(r, MissingFxRates)]
    if not others:
        return MissingFxRates(pairs)  # still the type the CLI and the API turn into their fx-rate answer
    reasons = dict.fromkeys(others + ([str(MissingFxRates(pairs))] if pairs else []))
    return CoverageInputError("; ".join(reasons))


def per_loan_in_batches(
    book: BookFrames,
    params: CoverageParams,
    loans_per_batch: int,
    finish: Callable[[pl.DataFrame], pl.DataFrame] = lambda frame: frame,
) -> list[pl.DataFrame]:
    """compute_coverage's per-loan rows, batch by batch, each passed through `finish` (an export keeps only what it
    writes, so a batch's working set is freed before the next one). Every batch is computed before a refusal is
    raised, so the refusal names what the whole book lacks."""
    out: list[pl.DataFrame] = []
    refusals: list[CoverageInputError] = []
    for part in parts(book, plan(book, loans_per_batch)):
        try:
            out.append(finish(compute_coverage(part, params).per_loan.collect()))
        except CoverageInputError as refusal:
            refusals.append(refusal)
    if refusals:
        raise _merged(refusals)
    return out
