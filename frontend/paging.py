"""The previous and next links of a page of a list; the pager macro (templates/_pager.html) draws them
with the page's number and count (registry.schemas.common.Page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from registry.schemas.common import Page


class PageLinks(NamedTuple):
    prev: str | None
    next: str | None


def page_links(page: Page[Any], url: Callable[[int], str]) -> PageLinks:
    """`url(n)` is the URL of page n; None at either end of the list."""
    return PageLinks(
        url(page.page - 1) if page.has_prev else None,
        url(page.page + 1) if page.has_next else None,
    )
