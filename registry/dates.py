"""The range of dates the registry takes. Python's calendar runs from year 1 to 9999, and a date near
either end overflows as soon as a service adds or subtracts days (a revaluation interval, a window), so
every date coming in is held to a range no loan, lien or valuation can sensibly fall outside."""

from __future__ import annotations

from datetime import date, datetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


def out_of_range(value: date | datetime) -> str | None:
    """Why the date cannot be taken, or None when it is within the range."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST <= day <= LATEST:
        return f"must be between {EARLIEST.isoformat()} and {LATEST.isoformat()}"
    return None
