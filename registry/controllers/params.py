"""Query parameters shared by list endpoints."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from registry.schemas.common import MAX_PAGE_SIZE, Paging

# Row ids are PostgreSQL `serial` (int4): anything larger cannot name a row and would fail in the driver.
RowId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


def provide_paging(
    page: Annotated[int, QueryParameter(ge=1, le=1_000_000, description="1-based page number")] = 1,
    page_size: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="rows per page")] = 50,
) -> Paging:
    return Paging(page=page, page_size=page_size)
