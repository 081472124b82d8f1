"""The PostgreSQL reader of coverage books (valuation/coverage_postgres.py): packed rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

pytestmark = pytest.mark.unit


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
