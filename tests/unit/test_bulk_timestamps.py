"""The import's timestamp parser against the plain chrono `%:z` parse it replaced for speed: the same instant,
or null, for every string, well-formed or not."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.bulk.checks import parse_timestamp


def reference(column: str) -> pl.Expr:
    normalised = pl.col(column).str.strip_chars().str.replace(" ", "T", literal=True).str.replace(r"Z$", "+00:00")
    with_offset = (
        pl.when(normalised.str.contains(r"[+-][0-9]{2}:[0-9]{2}$")).then(normalised).otherwise(normalised + "+00:00")
    )
    return with_offset.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC", time_unit="us")


def _both(values: list[str | None]) -> pl.DataFrame:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select("v", reference("v").alias("old"), parse_timestamp("v").alias("new"))


def _differences(values: list[str | None]) -> list[tuple[str | None, object, object]]:
    both = _both(values)
    return list(both.filter(pl.col("old").ne_missing(pl.col("new"))).iter_rows())


def two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


_timestamps = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone, pad: f"{pad}{y:04d}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{zone}{pad}",
    st.integers(1, 9999),
    two(0, 13),
    two(0, 32),
    st.sampled_from(["T", " ", "t", "TT"]),
    two(0, 25),
    two(0, 61),
    two(0, 61),
    st.sampled_from(["", ".", ".5", ".123456", ".123456789", ".1234567891", ",5"]),
    st.one_of(
        st.sampled_from(["", "Z", "z", "ZZ", "+0800", "+08", "Z+00:00"]),
        st.builds(lambda sign, h, m: f"{sign}{h}:{m}", st.sampled_from(["+", "-", "±"]), two(0, 30), two(0, 70)),
    ),
    st.sampled_from(["", " "]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_timestamps, st.text(max_size=30), st.none()), min_size=1, max_size=40))
def test_the_fast_parse_agrees_with_the_plain_one(values: list[str | None]) -> None:
    assert _differences(values) == []


def test_the_cases_the_import_documents() -> None:
    both = _both(
        ["2025-07-01T09:30:00+08:00", "2025-07-01 01:30:00Z", "2025-07-01T01:30:00.5", "2025-07-01T01:30:00+24:00"]
    )
    assert both["new"].to_list()[0] == both["new"].to_list()[1]  # the same instant, two ways
    assert both["new"].to_list()[2] is not None and both["new"].to_list()[3] is None
    assert _differences(both["v"].to_list()) == []
