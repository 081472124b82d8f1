"""How a list page moves through its rows while keeping what the user chose: the previous and next links of a
page (the pager macro in templates/_pager.html draws them with the page's number and count), the column headings
that sort the list (`sort_heading` there), and the hidden fields that carry the filters and sort in force through
any other form on the page (`kept_fields` there). Every list page uses these, so none drops a filter its own way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from registry.errors import InvalidInputError
from registry.schemas.common import Page

PAGE_PARAMS = frozenset({"page", "lien_page"})  # the page numbers of the lists; a new choice starts at the first


class PageLinks(NamedTuple):
    prev: str | None
    next: str | None


def page_links(page: Page[Any], url: Callable[[int], str]) -> PageLinks:
    """`url(n)` is the URL of page n; None at either end of the list."""
    return PageLinks(
        url(page.page - 1) if page.has_prev else None,
        url(page.page + 1) if page.has_next else None,
    )


@dataclass(frozen=True)
class Sort:
    """A list's order as its URL says it: "exposure" smallest first, "-exposure" largest first. The column ""
    is the list's own order, which no heading names."""

    column: str = ""
    descending: bool = False

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.column


def read_sort(field: str, text: str | None, columns: Iterable[str], default: Sort = Sort()) -> Sort:
    """The `sort` parameter (named `field` in the URL) of a list sorting on `columns`; empty is the default. An
    unknown column is refused by name (422) rather than silently ignored."""
    text = (text or "").strip()
    if not text:
        return default
    column = text.removeprefix("-")
    known = tuple(columns)
    if column not in known:
        orders = ", ".join(f"{c}, -{c}" for c in known)
        raise InvalidInputError.one(field, f"unknown order {text!r}; one of {orders}")
    return Sort(column, text.startswith("-"))


@dataclass(frozen=True)
class SortLinks:
    """The sortable headings of one list. `largest_first` names each sortable column and whether a first click
    orders it largest (or latest) first, as amounts and days overdue are read; `url(sort)` is the list's URL in
    that order with every filter kept and the list back at its first page."""

    current: Sort
    largest_first: Mapping[str, bool]
    url: Callable[[Sort], str]

    def href(self, column: str) -> str:
        """The column sorted the other way when it is the sort already; its own first way otherwise."""
        if column == self.current.column:
            return self.url(Sort(column, not self.current.descending))
        return self.url(Sort(column, self.largest_first[column]))

    def aria(self, column: str) -> str | None:
        if column != self.current.column:
            return None
        return "descending" if self.current.descending else "ascending"


def kept_fields(params: Iterable[tuple[str, object]], *set_here: str) -> list[tuple[str, str]]:
    """The hidden fields of a form on a list page: every parameter in force (`params`, as the page's own URL
    carries them) except those the form sets itself and the page numbers, since a new choice changes the rows."""
    skip = PAGE_PARAMS.union(set_here)
    return [(name, str(value)) for name, value in params if name not in skip]
