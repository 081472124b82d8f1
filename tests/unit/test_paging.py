"""A page of a list: what the pager shows is computed once, on Page, and the API answers only its fields."""

from __future__ import annotations

import msgspec
import pytest

from registry.schemas.common import Page, page_count

pytestmark = pytest.mark.unit


def test_page_count_is_at_least_one() -> None:
    assert [page_count(total, 25) for total in (0, 1, 25, 26, 50, 51)] == [1, 1, 1, 2, 2, 3]


def test_the_pager_figures() -> None:
    middle = Page(list(range(25)), total=51, page=2, page_size=25)
    assert (middle.pages, middle.has_prev, middle.has_next, middle.first_row, middle.last_row) == (
        3,
        True,
        True,
        26,
        50,
    )
    last = Page([1], total=51, page=3, page_size=25)
    assert (last.has_next, last.first_row, last.last_row) == (False, 51, 51)
    beyond = Page([], total=51, page=9, page_size=25)
    assert (beyond.pages, beyond.has_prev, beyond.has_next, beyond.first_row, beyond.last_row) == (3, True, False, 0, 0)
    empty = Page([], total=0, page=1, page_size=50)
    assert (empty.pages, empty.has_prev, empty.has_next) == (1, False, False)


def test_the_api_shape_is_the_four_fields() -> None:
    answer = msgspec.json.decode(msgspec.json.encode(Page([1, 2], total=2, page=1, page_size=50)))
    assert answer == {"items": [1, 2], "total": 2, "page": 1, "page_size": 50}
