"""What every file the service hands out shares: the `Content-Disposition` header and CSV cells made safe
for spreadsheets."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import polars as pl

# A text cell starting with one of these runs as a formula in Excel, LibreOffice or Sheets (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 !#$&+,.;=@^_`{}~()\[\]-]")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII `filename="…"` fallback and, when the name is not plain ASCII, the exact name as
    `filename*=UTF-8''…` (RFC 5987 percent-encoding). Header values must be latin-1; this one is ASCII."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = _FALLBACK_UNSAFE.sub("_", ascii_name).strip()
    if not fallback.strip("._ ") or fallback.startswith("."):
        fallback = "download" + (fallback if fallback.startswith(".") else "")
    header = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def csv_safe_text(value: Any) -> Any:
    """One text cell, prefixed with `'` when a spreadsheet would run it as a formula; a plain decimal number
    (a negative amount, say) is left as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _DECIMAL.match(value):
        return "'" + value
    return value


def csv_safe_row(values: Iterable[Any]) -> list[Any]:
    return [csv_safe_text(v) for v in values]


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every text column's formula-like cells prefixed with `'`; numbers, dates and text
    holding plain decimal numbers are unchanged."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text_columns:
        return frame
    pattern = _DECIMAL.pattern
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]") & ~pl.col(c).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text_columns
    )


def write_csv_text(frame: pl.DataFrame) -> str:
    """A frame as CSV text for a download, formula-safe."""
    return csv_safe_frame(frame).write_csv()
