"""The narrow path (valuation/coverage/fast.py: dense keys, Int64 money) against the general Int128 path
(engine._compute_wide) on random books: the same per-loan rows, the same contributions, the same
refusals. Amounts range from a few units to 2^58, so the narrow path's Int128 products (amount x weight
past Int64) and its fallbacks to the wide path are exercised too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from valuation.coverage import BookFrames, CoverageParams, compute_coverage, fast
from valuation.coverage.engine import _compute_wide
from valuation.coverage.errors import CoverageInputError
from valuation.coverage.frames import SHOCKS, conform
from valuation.coverage.refs import RefBook, key_book
from valuation.coverage.shocks import value_shocks

pytestmark = pytest.mark.unit
AS_OF = date(2026, 6, 30)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
RATES = {("CNY", "USD"): Decimal("0.14084507"), ("USD", "CNY"): Decimal("7.1")}
LIEN_STATUSES = ["registered", "registered", "registered", "submitted", "draft", "released", "expired", "rejected"]


@st.composite
def ref_books(draw: st.DrawFn) -> tuple[RefBook, CoverageParams, dict[str, Decimal] | None, int]:
    scale = draw(st.sampled_from([1, 1, 1000, 10**9, 2**40, 2**56]))
    money = st.integers(0, min(10**6, 2**62 // scale)).map(lambda v: v * scale)
    currencies = st.sampled_from(["CNY", "CNY", "USD"])
    n_loans, n_assets = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    loans = [
        (
            f"L{i}",
            f"B{i % 2}",
            draw(currencies),
            draw(money),
            draw(money),
            draw(st.integers(0, 3)),
            draw(st.integers(0, 3)),
            draw(st.sampled_from(["performing", "overdue", "settled", "written_off"])),
        )
        for i in range(n_loans)
    ]
    assets = [
        (
            f"A{i}",
            draw(st.sampled_from(["real_estate", "vehicle"])),
            draw(st.sampled_from(["active", "seized", "in_disposal"])),
        )
        for i in range(n_assets)
    ]
    days = st.sampled_from([-400, 0, 0, 90, 300])  # 2026-01-01 plus these; as_of is 2026-06-30
    valuations = [
        (
            f"A{draw(st.integers(0, n_assets - 1))}",
            date(2026, 1, 1) + timedelta(days=draw(days)),
            draw(st.one_of(money, money, money, st.none())),
            draw(currencies),
            draw(st.sampled_from(["approved", "approved", "rejected"])),
        )
        for _ in range(draw(st.integers(0, 6)))
    ]
    liens, links = [], []
    for i in range(draw(st.integers(1, 8))):
        own = draw(st.booleans())
        status = draw(st.sampled_from(LIEN_STATUSES))
        currency = draw(currencies)
        if own:
            same = [lo[0] for lo in loans if lo[2] == currency] or [loans[0][0]]
            mixed = draw(st.integers(0, 20)) == 0  # now and then a loan in another currency: refused
            pool = [lo[0] for lo in loans] if mixed else same
            links += [(f"K{i}", loan) for loan in sorted(draw(st.sets(st.sampled_from(pool), min_size=1)))]
        liens.append(
            (
                f"K{i}",
                f"A{draw(st.integers(0, n_assets - 1))}",
                "own" if own else "Z",
                status,
                None
                if status == "draft" or draw(st.integers(0, 9)) == 0
                else T0 + timedelta(days=draw(st.integers(0, 2))),
                draw(st.one_of(st.none(), money)) if own else None,
                None if own else draw(st.one_of(money, st.none())),
                draw(st.one_of(st.none(), st.sampled_from([date(2026, 7, 1), date(2027, 1, 1)]))),
                currency,
            )
        )
    book = RefBook(
        loans=pl.LazyFrame(
            loans,
            schema=["loan_id", "borrower_id", "currency", "principal", "interest", "penalty", "fees", "status"],
            orient="row",
        ),
        assets=pl.LazyFrame(assets, schema=["asset_id", "kind", "status"], orient="row"),
        valuations=pl.LazyFrame(
            valuations,
            schema={
                "asset_id": pl.String,
                "valued_on": pl.Date,
                "market_value": pl.Int64,
                "currency": pl.String,
                "status": pl.String,
            },
            orient="row",
        ),
        policies=pl.LazyFrame(
            {
                "kind": ["real_estate", "vehicle"],
                "haircut": [Decimal("0.25"), Decimal("0.4")],
                "revaluation_days": [365, 180],
                "max_ltv": [Decimal("0.7"), Decimal("0.55")],
            },
            schema={
                "kind": pl.String,
                "haircut": pl.Decimal(38, 12),
                "revaluation_days": pl.Int64,
                "max_ltv": pl.Decimal(38, 12),
            },
        ),
        liens=pl.LazyFrame(
            liens,
            schema={
                "lien_id": pl.String,
                "asset_id": pl.String,
                "holder": pl.String,
                "status": pl.String,
                "perfected_at": pl.Datetime("us", "UTC"),
                "cap": pl.Int64,
                "external_claim": pl.Int64,
                "expires_on": pl.Date,
                "currency": pl.String,
            },
            orient="row",
        ),
        lien_loans=pl.LazyFrame(links, schema={"lien_id": pl.String, "loan_id": pl.String}, orient="row"),
        double_pledge_asset_ids=pl.LazyFrame(
            {"asset_id": ["A0"] if draw(st.booleans()) else []}, schema={"asset_id": pl.String}
        ),
    )
    params = CoverageParams(
        as_of=AS_OF,
        include_unperfected=draw(st.booleans()),
        expiring_within_days=draw(st.sampled_from([0, 60])),
        fx_rates=RATES if draw(st.integers(0, 9)) else None,
    )
    shocks = draw(st.one_of(st.none(), st.just({"vehicle": Decimal("0.8")}), st.just({"real_estate": Decimal("1.5")})))
    return book, params, shocks, scale


def outcome(run: object) -> tuple[str, object]:
    try:
        return "ok", run()  # type: ignore[operator]
    except (CoverageInputError, pl.exceptions.PolarsError) as exc:  # a refusal, or an output past Int64
        return type(exc).__name__, str(exc)


def narrow(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> tuple[pl.DataFrame, ...]:
    result = compute_coverage(book, params, shocks)
    return result.per_loan.collect(), result.contributions.collect()


def wide(book: BookFrames, params: CoverageParams, shocks: pl.LazyFrame | None) -> tuple[pl.DataFrame, ...]:
    per_loan, contributions = _compute_wide(
        book.conformed(), params, None if shocks is None else conform(shocks, SHOCKS)
    )
    return per_loan, contributions.drop("_weighted_limit")


def assert_same(got: tuple[str, object], expected: tuple[str, object]) -> None:
    assert got[0] == expected[0], (got, expected)
    if got[0] == "InvalidOperationError":  # an output past Int64: the column named may differ
        return
    if got[0] != "ok":
        assert got == expected
        return
    (loans_a, rows_a), (loans_b, rows_b) = got[1], expected[1]  # type: ignore[misc]
    assert_frame_equal(loans_a, loans_b)
    keys = ["loan_id", "lien_id"]
    assert_frame_equal(rows_a.sort(keys), rows_b.sort(keys))


@settings(max_examples=300, deadline=None)
@given(ref_books())
def test_narrow_path_matches_the_wide_path(
    drawn: tuple[RefBook, CoverageParams, dict[str, Decimal] | None, int],
) -> None:
    refs, params, by_kind, scale = drawn
    book = key_book(refs)
    shocks = None if by_kind is None else value_shocks(book.assets, by_kind)
    got = outcome(lambda: narrow(book, params, shocks))
    if got[0] == "ok" and scale <= 10**9:  # amounts below 10^15: Int64 money
        assert fast.LAST_RUN["money"] == "Int64"
    assert_same(got, outcome(lambda: wide(book, params, shocks)))


@settings(max_examples=60, deadline=None)
@given(ref_books(), st.integers(1, 10**6), st.sampled_from([3, -3]), st.booleans())
def test_other_keys_give_the_same_figures(
    drawn: tuple[RefBook, CoverageParams, dict[str, Decimal] | None, int], offset: int, step: int, shocked: bool
) -> None:
    """Keys with gaps (x 3 + offset: still increasing, found by binary search) and keys in falling order
    (x -3 + offset: the tables are sorted by key first) give the figures of the dense keys."""
    refs, params, _, scale = drawn
    book = key_book(refs)

    def rekey(frame: pl.LazyFrame, *columns: str) -> pl.LazyFrame:
        return frame.with_columns(pl.col(c) * step + offset for c in columns)

    moved = book.with_frames(
        loans=rekey(book.loans, "loan_key"),
        assets=rekey(book.assets, "asset_key"),
        liens=rekey(book.liens, "lien_key", "asset_key"),
        valuations=rekey(book.valuations, "asset_key"),
        lien_loans=rekey(book.lien_loans, "lien_key", "loan_key"),
        double_pledge_assets=rekey(book.double_pledge_assets, "asset_key"),
    )
    shocks = value_shocks(book.assets, {"vehicle": Decimal("0.5")}) if shocked else None
    moved_shocks = None if shocks is None else rekey(shocks, "asset_key")

    def figures(frames: BookFrames, shocks: pl.LazyFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        result = compute_coverage(frames, params, shocks)
        keys = ["loan_id", "lien_id"]
        return (
            result.per_loan.collect().drop("loan_key").sort("loan_id"),  # loan_key order differs
            result.contributions.collect().drop("loan_key").sort(keys),
        )

    got = outcome(lambda: figures(moved, moved_shocks))
    if got[0] == "ok" and scale <= 10**9:
        assert fast.LAST_RUN["money"] == "Int64"  # any key order: Int64 money still
    expected = outcome(lambda: figures(book, shocks))
    assert got[0] == expected[0]
    if got[0] == "ok":
        for a, b in zip(got[1], expected[1], strict=True):  # type: ignore[call-overload]
            assert_frame_equal(a, b)
    else:
        assert got == expected


def test_a_book_past_the_narrow_bounds_falls_back_to_the_wide_path() -> None:
    loans = pl.LazyFrame(
        {
            "loan_id": ["L1", "L2"],
            "borrower_id": "B",
            "currency": "CNY",
            "principal": [2**61, 2**61],
            "interest": 0,
            "penalty": 0,
            "fees": 0,
            "status": "performing",
        }
    )
    refs = RefBook(
        loans=loans,
        assets=pl.LazyFrame({"asset_id": ["A1"], "kind": ["real_estate"]}),
        valuations=pl.LazyFrame(
            {
                "asset_id": ["A1"],
                "valued_on": [date(2026, 1, 1)],
                "market_value": [2**62],
                "currency": ["CNY"],
                "status": ["approved"],
            }
        ),
        policies=pl.LazyFrame(
            {
                "kind": ["real_estate"],
                "haircut": [Decimal("0.3")],
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
        lien_loans=pl.LazyFrame({"lien_id": ["K1", "K1"], "loan_id": ["L1", "L2"]}),
    )
    book = key_book(refs)
    result = compute_coverage(book, CoverageParams(as_of=AS_OF))
    assert fast.LAST_RUN["money"] == "Int128"  # exposures summing to 2^62 need Int128 sums
    rows = dict(result.per_loan.select("loan_id", "collateral_value").collect().rows())
    value = 2**62 * 7 // 10
    assert rows == {"L1": value // 2, "L2": value - value // 2}
    assert_same(
        ("ok", (result.per_loan.collect(), result.contributions.collect())),
        ("ok", wide(book, CoverageParams(as_of=AS_OF), None)),
    )


def test_the_hand_worked_shapes_take_the_narrow_path() -> None:
    refs = RefBook(
        loans=pl.LazyFrame(
            {
                "loan_id": ["L1", "L2"],
                "borrower_id": "B",
                "currency": "CNY",
                "principal": [2**40, 3 * 2**40],
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
                "market_value": [2**41 + 1],
                "currency": ["CNY"],
                "status": ["approved"],
            }
        ),
        policies=pl.LazyFrame(
            {
                "kind": ["real_estate"],
                "haircut": [Decimal("0")],
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
        lien_loans=pl.LazyFrame({"lien_id": ["K1", "K1"], "loan_id": ["L1", "L2"]}),
    )
    book = key_book(refs)
    params = CoverageParams(as_of=AS_OF)
    got = narrow(book, params, None)
    assert fast.LAST_RUN["money"] == "Int64"  # share x exposure = 2^81: only the split's product is Int128
    # 2^41 + 1 over 1:3 -> 2^39 + 0.25 and 3 x 2^39 + 0.75: floors 2^39 and 3 x 2^39, the unit to L2.
    assert dict(got[0].select("loan_id", "collateral_value").rows()) == {"L1": 2**39, "L2": 3 * 2**39 + 1}
    assert_same(("ok", got), ("ok", wide(book, params, None)))


def test_the_postgres_readers_packed_rows_unpack_or_fall_back() -> None:
    """coverage_postgres reads a PostgreSQL table as one row of whole columns; a column that cannot be
    trusted (a separator inside a text, a null text, a stored -infinity) makes it read the rows instead."""
    from valuation.coverage_postgres import _Table

    spec = _Table(
        "t", (("key", "int", "id"), ("ref", "text", "ref"), ("day", "date", "day"), ("at", "instant", "at")), "key"
    )
    since_2000 = [0, -(2**63), 86_400_000_000]  # microseconds since 2000-01-01; INT64_MIN is a null

    def packed(
        refs: str, non_null_refs: int = 3, instants: list[int] = since_2000, non_null_at: int = 2, n: int = 3
    ) -> pl.DataFrame:
        blob = b"".join(v.to_bytes(8, "big", signed=True) for v in instants)
        return pl.DataFrame(
            {
                "_n": [n],
                "key": [[3, 1, 2]],
                "ref": [refs],
                "_n_ref": [non_null_refs],
                "day": [[0, 1, 20_000]],
                "at": [blob],
                "_n_at": [non_null_at],
            }
        )

    rows = spec.unpack(packed("c\x1fa\x1fb"))
    assert rows is not None
    assert rows["key"].to_list() == [1, 2, 3]  # put in key order
    assert rows["ref"].to_list() == ["a", "b", "c"]
    assert rows["day"].to_list() == [date(1970, 1, 2), date(2024, 10, 4), date(1970, 1, 1)]
    assert rows["at"].to_list() == [None, datetime(2000, 1, 2, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)]
    assert spec.unpack(packed("c\x1fa\x1fb\x1fx")) is None  # a separator inside a ref
    assert spec.unpack(packed("c\x1fa", non_null_refs=2)) is None  # a null ref, skipped by string_agg
    assert spec.unpack(packed("c\x1fa\x1fb", non_null_at=3)) is None  # a stored -infinity
    assert spec.unpack(packed("c\x1fa\x1fb", instants=[0, 2**63 - 1, 0], non_null_at=3)) is None  # +infinity
    empty = spec.unpack(
        pl.DataFrame(
            {"_n": [0], "key": [None], "ref": [None], "_n_ref": [0], "day": [None], "at": [None], "_n_at": [0]}
        )
    )
    assert empty is not None
    assert empty.height == 0
    assert empty.schema["at"] == pl.Datetime("us", "UTC")
