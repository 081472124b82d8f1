"""Running the coverage engine on the committed book: reading it, caching it and the base result, and
turning the engine's refusals into 422 problems.

A run reads the book from the database (valuation.coverage_sources, a blocking Arrow read) and runs the
engine in a worker thread, so the event loop never waits on either. The last book read and the last few
base results are kept, filed under the book's version: the head of the audit chain. Every write that can
move coverage (postings, liens, assets, parcels, valuations, policies, imports) appends an audit event in
its own transaction, and the head is read before the book, so nothing cached is older than its key. Paging
through loans, opening loan after loan, or running scenario after scenario on an unchanged book then costs
only what is new, not a whole-book read and computation each time (seconds at a million loans).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Generic, TypeVar

import anyio.to_thread

from registry.errors import DomainError, InvalidInputError
from registry.tables import AuditEvent
from valuation.coverage import BookFrames, CoverageInputError, CoverageParams, CoverageResult, MissingFxRates, fx
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


BOOKS: Recent[BookFrames] = Recent(size=1)
RESULTS: Recent[CoverageResult] = Recent(size=2)


def parse_fx(texts: Sequence[str], field: str = "fx") -> dict[tuple[str, str], Decimal]:
    """Rates written "FROM/TO=RATE" (valuation.coverage.fx); InvalidInputError names each bad one."""
    rates, problems = fx.parse_rates(texts)
    if problems:
        raise InvalidInputError([(f"{field}[{i}]", reason) for i, reason in problems])
    return rates


def params(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageParams:
    return CoverageParams(as_of=as_of, include_unperfected=include_unperfected, fx_rates=fx_rates)


async def book_version() -> Version:
    """The audit chain's head: (seq, hash); the hash tells apart two chains that reached the same seq."""
    head = await AuditEvent.select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq, ascending=False).first()
    return (int(head["seq"]), str(head["hash"])) if head else (0, "")


def _base(_book: BookFrames, base: CoverageResult) -> CoverageResult:
    return base


async def with_base(coverage_params: CoverageParams, work: Callable[[BookFrames, CoverageResult], T]) -> T:
    """`work(book, base)` in a worker thread, on the committed book and its coverage under the params.
    Engine refusals become CoverageRefused (MissingFxRatesError with the missing pairs)."""
    version = await book_version()
    rates = tuple(sorted((coverage_params.fx_rates or {}).items()))
    key = (version, coverage_params.as_of, coverage_params.include_unperfected, coverage_params.expiring_within_days,
           rates)
    book, base = BOOKS.get((version,)), RESULTS.get(key)

    def run() -> tuple[BookFrames, CoverageResult, T]:
        # A base cached without its book is recomputed with the book read now, so both sides match.
        read = book if book is not None else book_from_database()
        result = base if base is not None and book is not None else engine(read, coverage_params)
        return read, result, work(read, result)

    try:
        read, result, out = await anyio.to_thread.run_sync(run)
    except MissingFxRates as exc:
        pairs = [{"from": a, "to": b} for a, b in exc.pairs]
        raise MissingFxRatesError(str(exc), {"missing_pairs": pairs}) from None
    except CoverageInputError as exc:
        raise CoverageRefused(str(exc)) from None
    if BOOKS.get((version,)) is None:
        # A new version: results of older ones go with their book (a result can read its book lazily).
        BOOKS.clear()
        RESULTS.clear()
    BOOKS.put((version,), read)
    RESULTS.put(key, result)
    return out


async def compute(as_of: date, include_unperfected: bool, fx_rates: FxRates | None = None) -> CoverageResult:
    """The committed book's coverage (cached by book version and parameters)."""
    return await with_base(params(as_of, include_unperfected, fx_rates), _base)


async def in_thread(work: Callable[[], T]) -> T:
    """Shaping a cached result (a million loans to sort, aggregate or format) off the event loop."""
    return await anyio.to_thread.run_sync(work)
