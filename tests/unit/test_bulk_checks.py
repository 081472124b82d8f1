from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.bulk import checks as c
from registry.money import MoneyError, format_amount, parse_amount

pytestmark = pytest.mark.unit

amount_text = st.one_of(
    st.from_regex(r"\A-?\d{1,19}(\.\d{0,5})?\Z"),
    st.sampled_from(["", "1e5", "1,000.00", " 12", "0.", ".5", "NaN", "١٢٣"]),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(amount_text, st.sampled_from(["CNY", "JPY", "KWD"])), min_size=1, max_size=40))
def test_vectorised_amounts_agree_with_the_scalar_parser(rows: list[tuple[str, str]]) -> None:
    # The reader trims every cell first, as the scalar parser does.
    frame = pl.DataFrame(rows, schema={"a": pl.String, "cur": pl.String}, orient="row").with_columns(
        pl.col("a").str.strip_chars()
    )
    digits = c.minor_digits(pl.col("cur"))
    checked = frame.with_columns(reason=c.amount("a", digits, nullable=False))
    for text, cur, reason in checked.iter_rows():
        try:
            expected = parse_amount(text, cur)
        except MoneyError:
            expected = None
        if expected is None or expected >= 2**62:
            # The scalar parser's refusals are the vectorised ones (very long integer parts aside).
            assert reason is not None or len(text.split(".")[0]) > 17, (text, cur)
            continue
        assert reason is None, (text, cur, reason)
        units = (
            pl.DataFrame({"a": [text.strip()], "cur": [cur]})
            .select(c.to_minor_units("a", c.minor_digits(pl.col("cur"))))
            .item()
        )
        assert units == expected
        formatted = (
            pl.DataFrame({"u": [units], "cur": [cur]})
            .select(c.format_units(pl.col("u"), c.minor_digits(pl.col("cur"))))
            .item()
        )
        assert formatted == format_amount(units, cur)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-07-01T09:30:00+08:00", "2025-07-01 01:30:00+00:00"),
        ("2025-07-01T01:30:00Z", "2025-07-01 01:30:00+00:00"),
        ("2025-07-01 01:30:00", "2025-07-01 01:30:00+00:00"),
        ("2025-07-01T01:30:00.250000", "2025-07-01 01:30:00.250000+00:00"),
        ("2025-02-30T00:00:00Z", None),
        ("yesterday", None),
    ],
)
def test_timestamps_are_read_as_utc(text: str, expected: str | None) -> None:
    out = pl.DataFrame({"t": [text]}).select(c.stored_timestamp(c.parse_timestamp("t"))).item()
    assert out == expected
