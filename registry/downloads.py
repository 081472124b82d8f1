"""What every file the service hands out shares: the `Content-Disposition` header and CSV cells made safe
for spreadsheets."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

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
