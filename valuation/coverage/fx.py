"""Currency conversion for coverage, exact in minor units.

A rate (v, x) says how many units of x one unit of v buys. With minor digits dv and dx, an amount a in
v's minor units is a x rate x 10^(dx - dv) in x's minor units: a fraction num/den kept as two integers.
Claims move into the valuation currency rounded up (so a claim met in full converts back to at least
itself); shares move into the loan currency rounded down (never more than the collateral is worth).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from registry.money import MoneyError, minor_digits
from valuation.coverage.errors import CoverageInputError, MissingFxRates

Pair = tuple[str, str]
# "CNY/USD=0.1405": units of the second currency (the loan's) per unit of the first (the valuation's), the
# direction MissingFxRates lists its pairs in.
_RATE = re.compile(r"^(?P<a>[A-Z]{3})/(?P<b>[A-Z]{3})=(?P<rate>[0-9]{1,9}(?:\.[0-9]{1,12})?)$")
RATE_EXAMPLE = "CNY/USD=0.1405"


def parse_rate(text: str) -> tuple[Pair, Decimal]:
    """One rate written FROM/TO=RATE; ValueError with the reason when it is not one."""
    match = _RATE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a rate such as {RATE_EXAMPLE!r} (FROM/TO=units of TO per unit of FROM)")
    pair, rate = (match["a"], match["b"]), Decimal(match["rate"])
    for currency in pair:
        try:
            minor_digits(currency)
        except MoneyError:
            raise ValueError(f"unknown currency {currency}") from None
    if pair[0] == pair[1]:
        raise ValueError("a rate converts between two different currencies")
    if rate <= 0:
        raise ValueError("a rate must be positive")
    return pair, rate


def split_rates(text: str) -> list[str]:
    """Rates typed in one field ("CNY/USD=0.14 HKD/CNY=0.92", spaces or commas between) as separate texts."""
    return [part for part in re.split(r"[,\s]+", text) if part]


def parse_rates(texts: Sequence[str]) -> tuple[dict[Pair, Decimal], list[tuple[int, str]]]:
    """Rates by pair, and (position, reason) for each text that is not a rate or repeats a pair."""
    rates: dict[Pair, Decimal] = {}
    problems: list[tuple[int, str]] = []
    for i, text in enumerate(texts):
        try:
            pair, rate = parse_rate(text)
        except ValueError as exc:
            problems.append((i, str(exc)))
            continue
        if pair in rates:
            problems.append((i, f"{pair[0]}/{pair[1]} is given twice"))
        rates[pair] = rate
    return rates, problems


def _digits(currency: str) -> int:
    try:
        return minor_digits(currency)
    except MoneyError as exc:
        raise CoverageInputError(str(exc)) from None


def factors(needed: Iterable[Pair], rates: Mapping[Pair, Decimal] | None) -> dict[Pair, tuple[int, int]]:
    """num/den per needed pair; every missing pair is listed in one MissingFxRates."""
    needed = sorted(set(needed))
    given = rates or {}
    missing = [pair for pair in needed if pair not in given]
    if missing:
        raise MissingFxRates(missing)
    out: dict[Pair, tuple[int, int]] = {}
    for value_ccy, claim_ccy in needed:
        ratio = Fraction(given[(value_ccy, claim_ccy)]) * Fraction(10) ** (_digits(claim_ccy) - _digits(value_ccy))
        out[(value_ccy, claim_ccy)] = (ratio.numerator, ratio.denominator)
    return out
