"""The pure helpers of the list pages and forms: amounts typed with separators, the download URL of a list, the
sorts of its headings and the fields its forms keep."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest

from frontend.amounts import plain_amount
from frontend.downloads import csv_url
from frontend.paging import Sort, SortLinks, kept_fields, read_sort
from frontend.worklist_list import Worklist
from registry.errors import InvalidInputError

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
    assert csv_url("/worklist?as_of=2026-01-01&page=2&lien_page=3") == "/worklist?as_of=2026-01-01&format=csv"


def test_a_sort_is_read_by_name_and_an_unknown_one_is_refused() -> None:
    assert read_sort("sort", "-value", ("value", "owner")) == Sort("value", descending=True)
    assert read_sort("sort", " owner ", ("value", "owner")) == Sort("owner")
    assert read_sort("lien_sort", "", ("value",), default=Sort("days_left")) == Sort("days_left")
    for bad in ("name", "--value", "-"):
        with pytest.raises(InvalidInputError) as refused:
            read_sort("lien_sort", bad, ("value", "owner"))
        assert refused.value.errors[0][0] == "lien_sort"


def test_a_heading_sorts_its_first_way_then_turns_round() -> None:
    links = SortLinks(Sort("value", True), {"value": True, "owner": False}, lambda s: f"/list?sort={s.text}")
    assert links.href("value") == "/list?sort=value"  # the sort in force: the other way
    assert links.href("owner") == "/list?sort=owner"
    assert (links.aria("value"), links.aria("owner")) == ("descending", None)
    fresh = SortLinks(Sort(), {"value": True}, lambda s: s.text)
    assert fresh.href("value") == "-value" and fresh.aria("value") is None


def test_a_form_keeps_every_choice_but_its_own_and_the_page() -> None:
    params = [("as_of", "2026-01-01"), ("borrower", "P1"), ("sort", "-ltv"), ("page", 3), ("lien_page", 2)]
    assert kept_fields(params, "as_of") == [("borrower", "P1"), ("sort", "-ltv")]
    assert kept_fields(params, "borrower", "sort") == [("as_of", "2026-01-01")]


def test_the_worklist_pages_and_sorts_each_list_keeping_the_other() -> None:
    work = Worklist.read(date(2027, 7, 1), 90, "stale", "-value", "owner", page=2, lien_page=3)

    def sent(url: str) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(url).query))

    kept = {"as_of": "2027-07-01", "within_days": "90", "reason": "stale", "sort": "-value", "lien_sort": "owner"}
    assert sent(work.asset_page_url(3)) == kept | {"page": "3", "lien_page": "3"}
    assert sent(work.lien_page_url(4)) == kept | {"page": "2", "lien_page": "4"}
    assert sent(work.asset_sorts.href("owner")) == kept | {"sort": "owner", "lien_page": "3"}
    assert sent(work.lien_sorts.href("owner")) == kept | {"lien_sort": "-owner", "page": "2"}
    assert sent(work.csv_url("liens")) == kept | {"format": "csv", "list": "liens"}
    assert dict(work.kept("as_of", "within_days", "reason", "sort")) == {"lien_sort": "owner"}
