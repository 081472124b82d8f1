"""Vectorised column checks over all-string frames. Pure Polars: no Litestar, no Piccolo.

Each check returns an expression giving the reason a row's value is bad, or null when it is fine;
`collect_errors` turns those into one long frame of (row, column, reason)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping

import polars as pl

from registry import dates
from registry.money import MINOR_DIGITS

REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_AMOUNT = r"^[0-9]{1,18}(\.[0-9]+)?$"
_RATIO = r"^[0-9]{1,6}(\.[0-9]{1,12})?$"
# The characters registry.services.common.check_text refuses (bidirectional overrides and isolates, C0 controls
# but tab and line breaks), as a Rust-regex class.
HIDDEN_CHARACTERS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{202A}-\x{202E}\x{2066}-\x{2069}]"
_RANGE = f"outside {dates.EARLIEST.isoformat()}..{dates.LATEST.isoformat()}"
ROW = "__row"  # 1-based data row, carried through every check

ERRORS_SCHEMA = {"file": pl.String, "row": pl.Int64, "column": pl.String, "reason": pl.String}


def reason_if(bad: pl.Expr, reason: pl.Expr | str) -> pl.Expr:
    return pl.when(bad).then(reason if isinstance(reason, pl.Expr) else pl.lit(reason)).otherwise(None)


def first_reason(*reasons: pl.Expr) -> pl.Expr:
    return pl.coalesce(*reasons)


def required(column: str) -> pl.Expr:
    return reason_if(pl.col(column).is_null() | (pl.col(column).str.strip_chars() == ""), "required")


def ref(column: str, *, nullable: bool = False) -> pl.Expr:
    bad = ~pl.col(column).str.contains(REF_PATTERN)
    check = reason_if(bad, "not a ref (1-64 letters, digits, '.', '_' or '-')")
    return check if nullable else first_reason(required(column), check)


def text(column: str, max_length: int, *, nullable: bool = False) -> pl.Expr:
    check = first_reason(
        reason_if(pl.col(column).str.len_chars() > max_length, f"longer than {max_length} characters"),
        reason_if(pl.col(column).str.contains("\x00", literal=True), "contains a NUL character"),
        reason_if(
            pl.col(column).str.contains(HIDDEN_CHARACTERS), "contains a control or bidirectional-override character"
        ),
    )
    return check if nullable else first_reason(required(column), check)


def one_of(column: str, allowed: Iterable[str], *, nullable: bool = False) -> pl.Expr:
    allowed = sorted(allowed)
    check = reason_if(
        ~pl.col(column).is_in(allowed), pl.format("{} is not one of " + ", ".join(allowed), pl.col(column))
    )
    return check if nullable else first_reason(required(column), check)


def minor_digits(currency: pl.Expr) -> pl.Expr:
    return currency.replace_strict(MINOR_DIGITS, default=None, return_dtype=pl.Int64)


def currency(column: str, *, nullable: bool = False) -> pl.Expr:
    check = reason_if(
        pl.col(column).is_not_null() & minor_digits(pl.col(column)).is_null(),
        pl.format("unknown currency {}", pl.col(column)),
    )
    return check if nullable else first_reason(required(column), check)


def amount(column: str, digits: pl.Expr, *, nullable: bool = True) -> pl.Expr:
    """A non-negative decimal string with no more decimals than the currency has."""
    value = pl.col(column)
    frac_len = value.str.extract(r"\.([0-9]+)$", 1).str.len_chars().fill_null(0)
    check = first_reason(
        reason_if(value.str.starts_with("-"), "must not be negative"),
        reason_if(~value.str.contains(_AMOUNT), pl.format("{} is not a decimal amount", value)),
        reason_if(frac_len > digits, pl.format("more than {} decimal places for this currency", digits)),
    )
    return check if nullable else first_reason(required(column), check)


def to_minor_units(column: str, digits: pl.Expr) -> pl.Expr:
    """Decimal string to integer minor units; call only on rows that passed `amount`."""
    value = pl.col(column)
    whole = value.str.extract(r"^([0-9]+)", 1).cast(pl.Int64)
    frac = value.str.extract(r"\.([0-9]+)$", 1)
    frac_len = frac.str.len_chars().fill_null(0)
    frac_units = frac.cast(pl.Int64).fill_null(0) * pl.lit(10, pl.Int64).pow((digits - frac_len).clip(lower_bound=0))
    return whole * pl.lit(10, pl.Int64).pow(digits) + frac_units


def ratio(column: str, *, low: float, high: float) -> pl.Expr:
    value = pl.col(column)
    return first_reason(
        required(column),
        reason_if(~value.str.contains(_RATIO), pl.format("{} is not a decimal ratio such as 0.25", value)),
        reason_if(
            (value.cast(pl.Decimal(24, 12), strict=False) < low)
            | (value.cast(pl.Decimal(24, 12), strict=False) > high),
            f"must be between {low:g} and {high:g}",
        ),
    )


def positive_int(column: str) -> pl.Expr:
    value = pl.col(column)
    return first_reason(
        required(column),
        reason_if(
            ~value.str.contains(r"^[0-9]{1,6}$") | (value.cast(pl.Int64, strict=False) == 0),
            pl.format("{} is not a positive whole number", value),
        ),
    )


def parse_date(column: str) -> pl.Expr:
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False)


def date(column: str, *, nullable: bool = False) -> pl.Expr:
    parsed = parse_date(column)
    check = first_reason(
        reason_if(
            parsed.is_null() & pl.col(column).is_not_null(), pl.format("{} is not a date (YYYY-MM-DD)", pl.col(column))
        ),
        reason_if((parsed < dates.EARLIEST) | (parsed > dates.LATEST), pl.format("{} is " + _RANGE, pl.col(column))),
    )
    return check if nullable else first_reason(required(column), check)


def parse_timestamp(column: str) -> pl.Expr:
    """ISO 8601, UTC when no offset is given ("Z", "+08:00", a space for "T" and fractions accepted).

    The offset is cut off and applied as arithmetic, and the rest parsed as a naive time: Polars parses a
    format with `%:z` row by row, three times slower on a million liens (tests/unit/test_bulk_timestamps.py
    holds this to the plain `%:z` parse)."""
    text = pl.col(column).str.strip_chars().str.replace(" ", "T", literal=True)
    tail = text.str.tail(6)
    hours = tail.str.slice(1, 2).cast(pl.Int64, strict=False)
    minutes = tail.str.slice(4, 2).cast(pl.Int64, strict=False)
    offset = tail.str.contains(r"^[+-][0-9]{2}:[0-9]{2}$")
    body = pl.when(offset).then(text.str.head(-6)).otherwise(text.str.strip_suffix("Z"))
    shift = pl.when(tail.str.starts_with("-")).then(-1).otherwise(1) * (hours * 60 + minutes)
    naive = body.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    # An offset chrono would refuse (24 hours or more, 60 minutes or more) makes the cell no timestamp.
    in_range = ~offset | ((hours < 24) & (minutes < 60))
    return pl.when(in_range).then(
        (naive - pl.duration(minutes=pl.when(offset).then(shift).otherwise(0))).dt.replace_time_zone("UTC")
    )


def timestamp(column: str, *, nullable: bool = True, parsed: pl.Expr | None = None) -> pl.Expr:
    """`parsed`: the column already parsed (a derived column), so the check does not parse it again."""
    parsed = parse_timestamp(column) if parsed is None else parsed
    day = parsed.dt.date()
    check = first_reason(
        reason_if(
            parsed.is_null() & pl.col(column).is_not_null(),
            pl.format("{} is not an ISO 8601 timestamp", pl.col(column)),
        ),
        reason_if((day < dates.EARLIEST) | (day > dates.LATEST), pl.format("{} is " + _RANGE, pl.col(column))),
    )
    return check if nullable else first_reason(required(column), check)


def not_after(column: str, last: _dt.date, reason: str) -> pl.Expr:
    """A date later than `last` (today, say) is refused with the reason."""
    return reason_if(parse_date(column) > last, pl.format("{} " + reason, pl.col(column)))


def duplicated(*columns: str, what: str) -> pl.Expr:
    return reason_if(~pl.struct(*columns).is_first_distinct(), f"duplicate {what}")


def collect_errors(
    file: str, frame: pl.DataFrame, checks: Mapping[str, pl.Expr], derived: Mapping[str, pl.Expr] | None = None
) -> pl.DataFrame:
    """Evaluate every column's checks; one row per bad cell. `derived` columns are computed once first, for
    checks that read a parsed value more than once (Polars does not share a subexpression across the
    branches of a when/then)."""
    if frame.is_empty() or not checks:
        return pl.DataFrame(schema=ERRORS_SCHEMA)
    reasons = (
        frame.lazy()
        .with_columns(**(derived or {}))
        .select(pl.col(ROW), *(expr.alias(col) for col, expr in checks.items()))
    )
    return (
        reasons.unpivot(index=ROW, variable_name="column", value_name="reason")
        .drop_nulls("reason")
        .select(pl.lit(file).alias("file"), pl.col(ROW).alias("row"), "column", "reason")
        .collect()
    )


def error_frame(rows: Iterable[tuple[str, int, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ERRORS_SCHEMA, orient="row")


def format_units(units: pl.Expr, digits: pl.Expr) -> pl.Expr:
    """Integer minor units back to the decimal string the import reads ("1234.50", "1000" for JPY)."""
    scale = pl.lit(10, pl.Int64).pow(digits)
    whole = (units.abs() // scale).cast(pl.String)
    frac = (units.abs() % scale).cast(pl.String).str.zfill(digits)
    sign = pl.when(units < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    frac_text = pl.when(digits > 0).then(pl.lit(".") + frac).otherwise(pl.lit(""))
    return pl.when(units.is_null()).then(None).otherwise(sign + whole + frac_text)


def stored_timestamp(parsed: pl.Expr) -> pl.Expr:
    """The text Piccolo itself writes for a UTC timestamp on SQLite (Python's isoformat with a space),
    so re-importing a lien the API registered compares equal instead of rewriting it."""
    # One formatting pass and a literal replace: a when/then over two formats formats every row twice.
    return parsed.dt.to_string("%Y-%m-%d %H:%M:%S%.6f+00:00").str.replace(".000000+", "+", literal=True)


def exported_timestamp(parsed: pl.Expr) -> pl.Expr:
    return parsed.dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ").str.replace(".000000Z", "Z", literal=True)
