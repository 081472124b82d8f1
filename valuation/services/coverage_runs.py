"""Running the coverage engine on the committed book: reading it, caching it and the base result, and
turning the engine's refusals into 422 problems.

A run reads the book from the database (valuation.coverage_sources, a blocking Arrow read) and runs the
engine in a worker thread, so the event loop never waits on either. The last book read and the last few
base results are kept, filed under the book's version: the head of the audit chain. Every write that can
move coverage (postings, liens, assets, parcels, valuations, policies, imports) appends an audit event in
its own transaction, and the head is read before the book, so nothing cached is older than its key. Cold
reads are taken one at a time, so requests arriving together share one read instead of each making its own. Paging
through loans, opening loan after loan, or running scenario after scenario on an unchanged book then costs
only what is new, not a whole-book read and computation each time (seconds at a million loans).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar, cast

import anyio
import anyio.to_thread
import polars as pl

from registry import dates
from registry.errors import DomainError, InvalidInputError
from registry.tables import AuditEvent
from valuation import coverage_changes
from valuation.coverage import (
    BookFrames,
    CoverageInputError,
    CoverageParams,
    CoverageResult,
    MissingFxRates,
    fx,
    incremental,
)
from valuation.coverage import compute_coverage as engine
from valuation.coverage_sources import book_from_database

T = TypeVar("T")
V = TypeVar("V")
FxRates = Mapping[tuple[str, str], Decimal]
Version = tuple[int, str]


class CoverageRefused(DomainError):
    """422: the engine will not give a number for this book (or this scenario) and says why."""

    status_code = 422
    title = "Coverage refused"

    def __init__(self, detail: str, extra: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self._extra = extra or {}

    def extra(self) -> dict[str, object]:
        return self._extra


class MissingFxRatesError(CoverageRefused):
    title = "Missing fx rates"


class Recent(Generic[V]):
    """The most recently used values, the least recent out first (a million-loan book or result is a few
    hundred MB, so only a few are kept)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[tuple[object, ...], V] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> V | None:
        found = self._values.get(key)
        if found is not None:
            self._values.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], value: V) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.size:
            self._values.popitem(last=False)

    def clear(self) -> None:
        self._values.clear()

    def newest_first(self) -> list[tuple[tuple[object, ...], V]]:
        return list(reversed(self._values.items()))


# Two versions of the book: the newest and the one before it, from which results under parameters not yet read
# at the newest are patched. A patched book is mostly slices of the book it was patched from, so the two share
# their memory; a book read whole replaces both.
BOOKS: Recent[BookFrames] = Recent(size=2)
RESULTS: Recent[CoverageResult] = Recent(size=4)


def parse_fx(texts: Sequence[str], field: str = "fx") -> dict[tuple[str, str], Decimal]:
    """Rates written "FROM/TO=RATE" (valuation.coverage.fx); InvalidInputError names each bad one."""
    rates, problems = fx.parse_rates(texts)
    if problems:
        raise InvalidInputError([(f"{field}[{i}]", reason) for i, reason in problems])
    return rates


def params(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageParams:
    """A coverage run's parameters; an as_of outside the registry's range of dates (from a body: the query's
    is refused before the handler) is 422 naming it."""
    if reason := dates.out_of_range(as_of):
        raise InvalidInputError.one("as_of", reason)
    return CoverageParams(as_of=as_of, include_unperfected=include_unperfected, fx_rates=fx_rates)


async def book_version() -> Version:
    """The audit chain's head: (seq, hash); the hash tells apart two chains that reached the same seq."""
    head = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return (int(head["seq"]), str(head["hash"])) if head else (0, "")


_LOADING = anyio.Lock()  # one cold read at a time: the others wait for it and then share it


def _materialised(result: CoverageResult) -> CoverageResult:
    """Every frame of a result computed once, loans by loan_id, so requests served from the cache only slice
    and filter it (the engine's roll-ups are lazy views over its per-loan and contribution frames)."""
    frames = pl.collect_all(
        [
            result.per_loan.sort("loan_id"),
            result.contributions,
            result.per_borrower,
            result.per_asset_kind,
            result.per_ltv_bucket,
            result.portfolio,
        ]
    )
    if not frames[1]["loan_key"].is_sorted():  # incremental.patched_result splices by loan_key
        frames[1] = frames[1].sort("loan_key", maintain_order=True)
    return CoverageResult(*(frame.lazy() for frame in frames))


async def _refusals(work: Callable[[], T]) -> T:
    """`work` in a worker thread; the engine's refusals become CoverageRefused (MissingFxRatesError)."""
    try:
        return await anyio.to_thread.run_sync(work)
    except MissingFxRates as exc:
        pairs = [{"from": a, "to": b} for a, b in exc.pairs]
        raise MissingFxRatesError(str(exc), {"missing_pairs": pairs}) from None
    except CoverageInputError as exc:
        raise CoverageRefused(str(exc)) from None


def _key(version: Version, coverage_params: CoverageParams) -> tuple[object, ...]:
    rates = tuple(sorted((coverage_params.fx_rates or {}).items()))
    return (
        version,
        coverage_params.as_of,
        coverage_params.include_unperfected,
        coverage_params.expiring_within_days,
        rates,
    )


async def _patched(
    coverage_params: CoverageParams, version: Version, *, book_only: bool
) -> tuple[Version, BookFrames, CoverageResult | None] | None:
    """A cached book brought up to the head of the chain by the events since (valuation.coverage.incremental), and
    its result under these params when the older book had one (recomputing only what the events moved), else None
    in its place: the caller runs the engine on the patched book, which still spares it a whole read. None when
    there is no older book to patch (`book_only`: or no older result under these params, the book being cached
    already) or the events need a whole read."""
    older = [(cast(Version, key[0]), book) for key, book in BOOKS.newest_first() if key[0] != version]
    with_result = next(
        ((v, book, base) for v, book in older if (base := RESULTS.get(_key(v, coverage_params))) is not None), None
    )
    if with_result is not None:
        old_version, before, base = with_result
    elif older and book_only:
        (old_version, before), base = older[0], None
    else:
        return None
    changes = await coverage_changes.changes_since(old_version)
    if changes is None:
        return None

    def patch() -> tuple[BookFrames, CoverageResult | None]:
        after = incremental.patched_book(before, changes.touched, changes.rows)
        if base is None:
            return after, None
        return after, incremental.recompute(before, after, changes.touched, base, coverage_params, order="loan_id")

    after, result = await _refusals(patch)
    return changes.version, after, result


# Refusals of the newest versions under their params (a book valued in several currencies without rates, say): the
# home page asks without rates on every view, and the engine runs a second or more on a big book to refuse again.
REFUSED: Recent[tuple[type[CoverageRefused], str, dict[str, object]]] = Recent(size=8)


def _refused_again(key: tuple[object, ...]) -> None:
    found = REFUSED.get(key)
    if found is not None:
        kind, detail, extra = found
        raise kind(detail, extra)


async def book_and_base(coverage_params: CoverageParams) -> tuple[BookFrames, CoverageResult]:
    """The committed book and its coverage under the params, from the cache when the book is unchanged, patched
    when a few rows changed since a cached version, read and computed whole otherwise."""
    version = await book_version()
    key = _key(version, coverage_params)
    async with _LOADING:
        book, base = BOOKS.get((version,)), RESULTS.get(key)
        if book is not None and base is not None:
            return book, base
        _refused_again(key)
        if (patched := await _patched(coverage_params, version, book_only=book is None)) is not None:
            # The older book and its results stay, for reads under other params to patch from in their turn.
            new_version, patched_book, base = patched
            if book is None or new_version != version:
                book = patched_book
                BOOKS.put((new_version,), book)
            if base is not None:
                RESULTS.put(_key(new_version, coverage_params), base)
                return book, base
            key = _key(new_version, coverage_params)
        elif book is None:
            book = await _refusals(book_from_database)
            # Read whole: the older books and their results are dropped (one version kept at a time).
            BOOKS.clear()
            RESULTS.clear()
            REFUSED.clear()
            BOOKS.put((version,), book)
        read = book
        try:
            result = await _refusals(lambda: _materialised(engine(read, coverage_params)))
        except CoverageRefused as refused:
            REFUSED.put(key, (type(refused), refused.detail, refused.extra()))
            raise
        RESULTS.put(key, result)
        return book, result


async def with_base(coverage_params: CoverageParams, work: Callable[[BookFrames, CoverageResult], T]) -> T:
    """`work(book, base)` in a worker thread, on the committed book and its coverage under the params."""
    book, base = await book_and_base(coverage_params)
    return await _refusals(lambda: work(book, base))


async def compute(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageResult:
    """The committed book's coverage (cached by book version and parameters)."""
    return (await book_and_base(params(as_of, include_unperfected, fx_rates)))[1]


async def in_thread(work: Callable[[], T]) -> T:
    """Shaping a cached result (a million loans to sort, aggregate or format) off the event loop."""
    return await anyio.to_thread.run_sync(work)
