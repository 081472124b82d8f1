"""Parameters shared by the API's and the pages' handlers: row ids in paths, and paging.

The `paging` dependency is provided once, by the app (`PAGING`), to every handler that asks for a
`paging: NamedDependency[Paging]`; a page that shows another default size, or a fixed one, provides its
own with `paging_provider`. Either way `page` is capped at MAX_PAGE, so a huge page number is a 422.
"""

from __future__ import annotations

from typing import Annotated

from litestar.di import Provide
from litestar.params import PathParameter, QueryParameter

from registry.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, Paging

# Row ids are PostgreSQL `serial` (int4): anything larger cannot name a row and would fail in the driver.
RowId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
PageNumber = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="1-based page number")]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="rows per page")]


def paging_provider(default_size: int = DEFAULT_PAGE_SIZE, *, sized: bool = True) -> Provide:
    """The `paging` dependency: `page` and, when sized, `page_size` (default default_size); else every page
    holds default_size rows."""

    def provide_sized(page: PageNumber = 1, page_size: PageSize = default_size) -> Paging:
        return Paging(page=page, page_size=page_size)

    def provide_fixed(page: PageNumber = 1) -> Paging:
        return Paging(page=page, page_size=default_size)

    return Provide(provide_sized if sized else provide_fixed, sync_to_thread=False)


PAGING = paging_provider()
