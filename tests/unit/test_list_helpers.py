"""The pure helpers of the list pages and forms: amounts typed with separators, the download URL of a list."""

from __future__ import annotations

import pytest

from frontend.amounts import plain_amount
from frontend.downloads import csv_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1,250,000.00", "1250000.00"),
        (" 810,000.01 ", "810000.01"),
        ("-1,000", "-1000"),
        ("999", "999"),
        ("1250000.00", "1250000.00"),
        ("1,2,3", "1,2,3"),  # not grouped in thousands: left for the service to refuse by name
        ("6,50,000", "6,50,000"),
        ("12,34.5", "12,34.5"),
        ("", ""),
    ],
)
def test_only_correctly_grouped_amounts_lose_their_commas(typed: str, read: str) -> None:
    assert plain_amount(typed) == read


def test_the_download_keeps_the_filters_and_drops_the_page() -> None:
    assert csv_url("/assets?kind=vehicle&page=3&page_size=50") == "/assets?kind=vehicle&page_size=50&format=csv"
    assert csv_url("/audit") == "/audit?format=csv"
    assert (
        csv_url("/worklist?as_of=2026-01-01&format=csv", list="liens")
        == "/worklist?as_of=2026-01-01&format=csv&list=liens"
    )
