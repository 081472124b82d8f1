"""Coverage after a few changes without recomputing the book: DESIGN 5 is local to connected collateral.

A loan's figures depend on its own exposure, its liens, the assets under them, every other lien on those assets
(ranks ahead and beside), and through the splits by claim and by exposure on the other loans of those liens: on
its component of the graph loans - liens - assets, and on nothing outside it. So after a change the loans whose
figures can move are those of the components the changed rows belong to, before the change (a link removed
splits a component, and the loans left on the other side move too) or after it (a link added merges two). Those
are computed again, as a closed book of their own, by the same engine, and their rows replace the old ones; every
other row of the result is kept as it was. tests/unit/test_coverage_incremental.py checks the outcome against a
full recomputation after random sequences of changes.

The book-wide refusals stay as strict: the engine refuses the component when it would refuse the book for it (a
missing fx rate, a kind without policy, amounts too large for exact arithmetic within the component, where every
sum and product of the component is formed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from valuation.coverage.engine import CoverageResult, compute_coverage
from valuation.coverage.frames import BookFrames, CoverageParams
from valuation.coverage.rollups import (
    finish_buckets,
    finish_kinds,
    finish_portfolio,
    per_asset_kind,
    per_borrower,
    per_ltv_bucket,
    portfolio,
)


@dataclass(frozen=True, slots=True)
class Keys:
    """Loan, asset and lien keys: the rows a change touched, or a component of the book."""

    loans: frozenset[int] = frozenset()
    assets: frozenset[int] = frozenset()
    liens: frozenset[int] = frozenset()

    def __or__(self, other: Keys) -> Keys:
        return Keys(self.loans | other.loans, self.assets | other.assets, self.liens | other.liens)

    def __bool__(self) -> bool:
        return bool(self.loans or self.assets or self.liens)


@dataclass(frozen=True, slots=True)
class Rows:
    """The current rows of what a change touched, in the engine's contract (frames.py): loans, assets and liens
    by their keys; every approved valuation and the double-pledge mark of each touched asset; every lien-loan link
    of each touched lien and each touched loan. A touched key missing from its frame is a row that is gone."""

    loans: pl.DataFrame
    assets: pl.DataFrame
    valuations: pl.DataFrame
    liens: pl.DataFrame
    lien_loans: pl.DataFrame
    double_pledge_assets: pl.DataFrame


def _keys(frame: pl.DataFrame, column: str) -> frozenset[int]:
    return frozenset(frame[column].unique().to_list())


def _among(column: str, keys: Iterable[int]) -> pl.Expr:
    return pl.col(column).is_in(pl.Series(values=list(keys), dtype=pl.Int64).implode())


def _collected(book: BookFrames) -> dict[str, pl.DataFrame]:
    # The service keeps its books materialised, so collecting here only unwraps them.
    frames = pl.collect_all(
        [book.loans, book.assets, book.valuations, book.liens, book.lien_loans, book.double_pledge_assets]
    )
    names = ("loans", "assets", "valuations", "liens", "lien_loans", "double_pledge_assets")
    return dict(zip(names, frames, strict=True))


def component(book: BookFrames, seeds: Keys) -> Keys:
    """Every loan, asset and lien connected to the seeds through lien-loan links and liens on shared assets: the
    smallest closed part of the book that holds them (a lien's asset, every lien on an asset, every loan of a
    lien and every lien of a loan are in it)."""
    frames = _collected(book)
    liens, links = frames["liens"].select("lien_key", "asset_key"), frames["lien_loans"]
    found, new = Keys(), seeds
    while new:
        found = found | new
        lien_keys = (
            _keys(liens.filter(_among("asset_key", new.assets)), "lien_key")
            | _keys(links.filter(_among("loan_key", new.loans)), "lien_key")
            | new.liens
        ) - found.liens
        found = found | Keys(liens=frozenset(lien_keys))
        reached = Keys(
            loans=_keys(links.filter(_among("lien_key", lien_keys | new.liens)), "loan_key") - found.loans,
            assets=_keys(liens.filter(_among("lien_key", lien_keys | new.liens)), "asset_key") - found.assets,
        )
        new = reached
    return found


def old_neighbours(before: BookFrames, touched: Keys) -> Keys:
    """What the touched rows were linked to before the change: a touched lien's asset and loans, a touched loan's
    liens. A change moves only edges at touched rows, so every path of the old graph from a touched row runs,
    between touched rows and these, over edges the new graph still has: the new graph's component of touched
    and these holds the old component too, at the cost of one look at the links instead of a second walk."""
    frames = _collected(before)
    liens, links = frames["liens"], frames["lien_loans"]
    of_touched = links.filter(_among("lien_key", touched.liens) | _among("loan_key", touched.loans))
    return Keys(
        loans=_keys(of_touched, "loan_key"),
        assets=_keys(liens.filter(_among("lien_key", touched.liens)), "asset_key"),
        liens=_keys(of_touched, "lien_key"),
    )


def part_of(book: BookFrames, keys: Keys) -> BookFrames:
    """The book restricted to a closed set of keys (component's result): a book of its own."""
    return book.with_frames(
        loans=book.loans.filter(_among("loan_key", keys.loans)),
        assets=book.assets.filter(_among("asset_key", keys.assets)),
        valuations=book.valuations.filter(_among("asset_key", keys.assets)),
        liens=book.liens.filter(_among("lien_key", keys.liens)),
        lien_loans=book.lien_loans.filter(_among("lien_key", keys.liens)),
        double_pledge_assets=book.double_pledge_assets.filter(_among("asset_key", keys.assets)),
    )


def patched_book(book: BookFrames, touched: Keys, rows: Rows) -> BookFrames:
    """The book with the touched rows replaced by their current state (added, changed or gone). Rows keep the
    book's order where it has one the engine relies on (loans, assets and liens by key; new database rows have
    the largest keys, so they go last); links and valuations are kept in any order (the engine's numbers do not
    depend on it; only the order of a loan's contributions among themselves follows the links, and a loan's
    explanation sorts them by rank, asset and lien)."""

    def replace(frame: pl.LazyFrame, keep: pl.Expr, current: pl.DataFrame, key: str | None) -> pl.LazyFrame:
        if current.height == 0 and not touched:
            return frame
        kept = _split_off(frame.collect(), ~keep)[0]
        if key is not None and kept[key].is_sorted():
            return _put_in_place(kept, current, key).lazy()
        return pl.concat([kept, current.select(kept.columns).cast(kept.schema)], rechunk=False).lazy()

    links_kept = ~_among("lien_key", touched.liens) & ~_among("loan_key", touched.loans)
    return book.with_frames(
        loans=replace(book.loans, ~_among("loan_key", touched.loans), rows.loans, "loan_key"),
        assets=replace(book.assets, ~_among("asset_key", touched.assets), rows.assets, "asset_key"),
        valuations=replace(book.valuations, ~_among("asset_key", touched.assets), rows.valuations, None),
        liens=replace(book.liens, ~_among("lien_key", touched.liens), rows.liens, "lien_key"),
        lien_loans=replace(book.lien_loans, links_kept, rows.lien_loans.unique(maintain_order=True), None),
        double_pledge_assets=replace(
            book.double_pledge_assets, ~_among("asset_key", touched.assets), rows.double_pledge_assets, None
        ),
    )


# Beyond this many rows to put in place, one sort of the whole frame is cheaper than that many slices.
_SLICED_INSERT = 2_000
_MAX_CHUNKS = 256


def _put_in_place(kept: pl.DataFrame, new: pl.DataFrame, order: str) -> pl.DataFrame:
    """kept and new (both ordered by `order`, no value of it in both) as one frame in that order: new's rows
    spliced in where a binary search puts them, so the large frame is neither sorted nor merged row by row."""
    new = new.select(kept.columns).cast(kept.schema).sort(order, maintain_order=True)
    if new.height == 0:
        return kept
    if new.height > _SLICED_INSERT:
        return pl.concat([kept, new]).sort(order, maintain_order=True)
    at = kept[order].search_sorted(new[order], side="left").to_list()
    pieces, start, row = [], 0, 0
    while row < new.height:
        place, run = at[row], 1
        while row + run < new.height and at[row + run] == place:
            run += 1
        pieces += [kept.slice(start, place - start), new.slice(row, run)]
        start, row = place, row + run
    pieces.append(kept.slice(start))
    spliced = pl.concat(pieces, rechunk=False)
    # Each splice adds pieces; a frame patched many times is made whole again now and then.
    return spliced.rechunk() if spliced.n_chunks() > _MAX_CHUNKS else spliced


def _split_off(frame: pl.DataFrame, leaving: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the rows staying, the rows leaving) of a frame of which a change touches a few rows. The staying rows are
    slices of the frame, not a copy: a patch of a million-row frame then costs one scan, not one copy."""
    rows = frame.select(pl.arg_where(leaving)).to_series()
    if rows.len() == 0:
        return frame, frame.clear()
    if rows.len() > _SLICED_INSERT:
        return frame.filter(~leaving), frame[rows]
    pieces, start = [], 0
    for row in rows.to_list():
        if row > start:
            pieces.append(frame.slice(start, row - start))
        start = row + 1
    pieces.append(frame.slice(start))
    staying = pl.concat(pieces, rechunk=False)
    return (staying.rechunk() if staying.n_chunks() > _MAX_CHUNKS else staying), frame[rows]


def _rollup(old: pl.DataFrame, minus: pl.DataFrame, plus: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A roll-up of the whole book moved by what one part of it took out (minus) and put in (plus). Exact for
    sums, and for the distinct counts of per_asset_kind too: a component's assets and loans are nobody else's."""
    sums = [c for c, t in old.schema.items() if c not in keys and t.is_integer()]
    wide = [pl.col(c).cast(pl.Int64) for c in sums]
    signed = pl.concat(
        [
            old.select(*keys, *wide),
            plus.select(*keys, *wide),
            minus.select(*keys, *(-w for w in wide)),
        ]
    )
    moved = signed.group_by(keys, maintain_order=True).agg(pl.col(sums).sum())
    return moved.with_columns(pl.col(c).cast(old.schema[c]) for c in sums)


def _patched_rollups(
    base: CoverageResult,
    per_loan: pl.LazyFrame,
    contributions: pl.LazyFrame,
    gone: tuple[pl.LazyFrame, pl.LazyFrame],
    new: CoverageResult,
) -> CoverageResult:
    old_loans, old_parts = gone
    old_portfolio, old_kinds, old_buckets, minus_p, minus_k, minus_b, plus_p, plus_k, plus_b = pl.collect_all(
        [
            base.portfolio,
            base.per_asset_kind,
            base.per_ltv_bucket,
            portfolio(old_loans),
            per_asset_kind(old_parts),
            per_ltv_bucket(old_loans),
            new.portfolio,
            new.per_asset_kind,
            new.per_ltv_bucket,
        ]
    )
    totals = _rollup(old_portfolio, minus_p, plus_p, ["currency"]).filter(pl.col("loans") > 0)
    kinds = _rollup(old_kinds, minus_k, plus_k, ["kind", "currency"]).filter(pl.col("loans") > 0)
    buckets = _rollup(old_buckets, minus_b, plus_b, ["currency", "ltv_bucket"])
    return CoverageResult(
        per_loan=per_loan,
        contributions=contributions,
        # Per borrower is a group-by of every loan (a fifth of a second at a million): left to whoever reads it.
        per_borrower=per_borrower(per_loan),
        per_asset_kind=finish_kinds(kinds.lazy()).collect().lazy(),
        per_ltv_bucket=finish_buckets(buckets.lazy(), totals.lazy().select("currency")).collect().lazy(),
        portfolio=finish_portfolio(totals.lazy()).collect().lazy(),
    )


def patched_result(base: CoverageResult, part: CoverageResult, loans: frozenset[int], order: str) -> CoverageResult:
    """base with every row of the given loans replaced by part's rows (part is the coverage of a closed piece of
    the book holding them). base's per-loan rows are in `order` (a unique column), its contributions in loan_key
    order, as the engine gives them; the roll-ups are moved by what the piece took out and put in."""
    of_part = _among("loan_key", loans)
    base_loans, base_parts, new_loans, new_parts = pl.collect_all(
        [base.per_loan, base.contributions, part.per_loan, part.contributions]
    )
    kept_loans, old_loans = _split_off(base_loans, of_part)
    kept_parts, old_parts = _split_off(base_parts, of_part)
    per_loan = _put_in_place(kept_loans, new_loans, order).lazy()
    contributions = _put_in_place(kept_parts, new_parts, "loan_key").lazy()
    return _patched_rollups(base, per_loan, contributions, (old_loans.lazy(), old_parts.lazy()), part)


def recompute(
    before: BookFrames, after: BookFrames, touched: Keys, base: CoverageResult, params: CoverageParams, order: str
) -> CoverageResult:
    """base (the coverage of `before` under params) made the coverage of `after`, which differs from `before`
    only in the touched rows, by recomputing the components those rows belong to in either book."""
    reach = component(after, touched | old_neighbours(before, touched))
    part = compute_coverage(part_of(after, reach), params)
    return patched_result(base, part, reach.loans, order)
