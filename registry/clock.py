"""The one clock: every "now" in the product comes from here, so tests can set time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _now()


def today() -> date:
    return _now().date()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None restores the system clock."""
    global _now  # noqa: PLW0603
    _now = fn if fn is not None else (lambda: datetime.now(UTC))
