from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.money import MoneyError, format_amount, parse_amount, split_largest_remainder

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "currency", "units"),
    [
        ("1234.56", "CNY", 123456),
        ("0.01", "CNY", 1),
        ("7", "CNY", 700),
        ("7.5", "USD", 750),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
    ],
)
def test_parse_amount_gives_minor_units(text: str, currency: str, units: int) -> None:
    assert parse_amount(text, currency) == units


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("1.001", "CNY", "at most 2 decimal places"),
        ("1.5", "JPY", "at most 0 decimal places"),
        ("-1.00", "CNY", "negative"),
        ("1e5", "CNY", "not a decimal amount"),
        ("", "CNY", "not a decimal amount"),
        ("12,00", "CNY", "not a decimal amount"),
        ("1.00", "XXX", "unknown currency"),
    ],
)
def test_parse_amount_refuses_with_reason(text: str, currency: str, reason: str) -> None:
    with pytest.raises(MoneyError, match=reason):
        parse_amount(text, currency)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_format_then_parse_round_trips(units: int, currency: str) -> None:
    assert parse_amount(format_amount(units, currency), currency, allow_negative=True) == units


def test_split_gives_leftover_cents_to_largest_remainders_ties_to_smaller_ref() -> None:
    # 100 over three equal weights: 33 each, one cent left, tie broken by the smaller key.
    assert split_largest_remainder(100, [1, 1, 1], ["b", "a", "c"]) == [33, 34, 33]
    # 10 over weights 1 and 2: 3.33 and 6.67 -> the larger remainder (0.67) takes the cent.
    assert split_largest_remainder(10, [1, 2], ["x", "y"]) == [3, 7]


@given(
    st.integers(min_value=0, max_value=10**14),
    st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
)
def test_split_is_exact_and_each_part_within_one_unit_of_its_share(amount: int, weights: list[int]) -> None:
    keys = [f"k{i:03d}" for i in range(len(weights))]
    parts = split_largest_remainder(amount, weights, keys)
    assert sum(parts) == amount
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert amount * weight // total <= part <= amount * weight // total + 1
        if weight == 0:
            assert part == 0
