"""Amounts as people type them on the pages: "1,250,000.00" is read as "1250000.00" by every form that takes an
amount (postings, disposal rounds and offers, settlements, bids, what-if balances). Pure."""

from __future__ import annotations

import re

_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def plain_amount(text: str) -> str:
    """ "1,250,000.00" -> "1250000.00". Only correctly grouped digits lose their commas: "1,2,3" or "6,50,000"
    stay as typed, so the service refuses them by name rather than the page guessing what was meant."""
    text = text.strip()
    return text.replace(",", "") if _GROUPED.match(text) else text
