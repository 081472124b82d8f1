"""Money as integer minor units inside, decimal strings outside.

Pure: imports neither Litestar nor Piccolo.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

# ISO 4217 minor units for the currencies a bank book is likely to hold. An unknown code is refused
# rather than guessed, because a wrong exponent silently scales every amount.
MINOR_DIGITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "MOP": 2,
    "TWD": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "THB": 2,
    "MYR": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "IDR": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
}

# ASCII digits only: Python's \d also matches other scripts' digits, which no bank file should carry.
_AMOUNT = re.compile(r"^(?P<sign>-)?(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
_RATIO = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


# The book's home currency: what a lien with no secured loans to take a currency from is kept in.
DEFAULT_CURRENCY = "CNY"


class MoneyError(ValueError):
    """An amount or currency that cannot be taken as given."""


def minor_digits(currency: str) -> int:
    try:
        return int(MINOR_DIGITS[currency])
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}") from None


def check_currency(currency: str) -> str:
    minor_digits(currency)
    return currency


def parse_amount(text: str, currency: str, *, allow_negative: bool = False) -> int:
    """Parse a decimal string into minor units, refusing more digits than the currency has."""
    digits = minor_digits(currency)
    if not isinstance(text, str):
        raise MoneyError('must be a decimal string such as "1234.56"')
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise MoneyError(f'{text!r} is not a decimal amount such as "1234.56"')
    if match["sign"] and not allow_negative:
        raise MoneyError("must not be negative")
    frac = match["frac"] or ""
    if len(frac) > digits:
        raise MoneyError(f"{currency} amounts have at most {digits} decimal places")
    scale: int = 10**digits
    units = int(match["int"]) * scale + int(frac.ljust(digits, "0") or "0")
    if units >= 2**63:
        raise MoneyError("amount is too large")
    return -units if match["sign"] else units


def format_amount(units: int, currency: str) -> str:
    digits = minor_digits(currency)
    sign = "-" if units < 0 else ""
    scale: int = 10**digits
    whole, frac = divmod(abs(units), scale)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def money_or_none(units: int | None, currency: str) -> str | None:
    """An optional amount (a cap, a forced-sale value) as the API writes it."""
    return None if units is None else format_amount(units, currency)


def parse_ratio(text: str, *, low: Decimal = Decimal(0), high: Decimal = Decimal(1)) -> Decimal:
    if not isinstance(text, str) or not _RATIO.match(text.strip()):
        raise MoneyError(f'{text!r} is not a decimal ratio such as "0.25"')
    value = Decimal(text.strip())
    if not low <= value <= high:
        raise MoneyError(f"must be between {low} and {high}")
    return value


def split_largest_remainder(amount: int, weights: Sequence[int], tie_keys: Sequence[str]) -> list[int]:
    """Split `amount` minor units pro rata to integer `weights`, exactly.

    Each part gets floor(amount * w / W); the units left over go one each to the parts with the
    largest fractional remainder, ties to the smaller key. Parts always sum to `amount`.
    """
    if len(weights) != len(tie_keys):
        raise ValueError("weights and tie_keys differ in length")
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("amount and weights must be non-negative")
    total = sum(weights)
    if total == 0:
        if amount:
            raise ValueError("cannot split a positive amount over zero weights")
        return [0] * len(weights)
    parts = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], tie_keys[i]))
    for i in order[:left]:
        parts[i] += 1
    return parts
