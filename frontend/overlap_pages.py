"""The list of parcels drawn over each other ("possible double pledge"), and its full rescan."""

from __future__ import annotations

from math import ceil
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import QueryParameter
from litestar.response import Template

from frontend.templating import layout_context, signed_in_user
from registry.auth import roles
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import MAX_PAGE_SIZE, Paging
from registry.schemas.spatial import RescanReport
from registry.services import parcel_overlaps

PAGE_SIZE = 50


async def _page(
    request: Request[Any, Any, Any], page: int, page_size: int, report: RescanReport | None = None
) -> Template:
    found = await parcel_overlaps.list_overlaps(Paging(page, page_size))
    pages = max(1, ceil(found.total / found.page_size))
    user = signed_in_user(request)

    def url(number: int) -> str:
        size = f"&page_size={page_size}" if page_size != PAGE_SIZE else ""
        return f"/overlaps?page={number}{size}"

    return Template(
        template_name="overlaps/list.html",
        context={
            **layout_context(request),
            "page": found,
            "pages": pages,
            "prev_url": url(page - 1) if page > 1 else None,
            "next_url": url(page + 1) if page < pages else None,
            "min_share": parcel_overlaps.min_share(),
            "may_rescan": user is not None and Role(user.role) in COLLATERAL_WRITERS,
            "report": report,
        },
    )


class OverlapPagesController(Controller):
    path = "/overlaps"

    @get(name="pages:overlaps", opt=roles(REGISTRY_READERS))
    async def overlaps(
        self,
        request: Request[Any, Any, Any],
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    ) -> Template:
        return await _page(request, page, page_size)

    @post("/rescan", name="pages:overlaps-rescan", opt=roles(COLLATERAL_WRITERS), status_code=200)
    async def rescan(self, request: Request[Any, Any, Any]) -> Template:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        user = signed_in_user(request)
        report = await parcel_overlaps.rescan(user.username if user else "unknown")
        return await _page(request, 1, PAGE_SIZE, report)
