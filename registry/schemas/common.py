"""Shapes shared by every endpoint."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Far beyond the last page of any book at any page size, and small enough that the row offset it makes
# always fits the databases' integers: a larger page number is refused (422), never a database overflow.
MAX_PAGE = 1_000_000


def page_count(total: int, page_size: int) -> int:
    """How many pages `total` rows fill; at least one, so an empty list is page 1 of 1."""
    return max(1, -(-total // page_size))


class Page(msgspec.Struct, Generic[T]):
    """One page of a list. The properties are for the pages' pager; the API answers the four fields."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return page_count(self.total, self.page_size)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_row(self) -> int:
        """The 1-based number of the page's first row in the whole list; 0 for an empty page."""
        return (self.page - 1) * self.page_size + 1 if self.items else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.items) - 1 if self.items else 0


class Paging(msgspec.Struct, frozen=True):
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size
