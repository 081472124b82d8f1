"""The list of parcels drawn over each other ("possible double pledge"), and its full rescan."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream, Template

from frontend.downloads import ListFormat, csv_stream, every_page
from frontend.list_exports import OVERLAP_HEADER, overlap_row
from frontend.paging import page_links
from frontend.templating import layout_context, signed_in_user
from registry.auth import roles
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import DEFAULT_PAGE_SIZE, Paging
from registry.schemas.spatial import RescanReport
from registry.services import parcel_overlaps

CsvFormat = Annotated[ListFormat, QueryParameter(name="format")]


async def _page(request: Request[Any, Any, Any], paging: Paging, report: RescanReport | None = None) -> Template:
    found = await parcel_overlaps.list_overlaps(paging)
    user = signed_in_user(request)

    def url(number: int) -> str:
        size = f"&page_size={paging.page_size}" if paging.page_size != DEFAULT_PAGE_SIZE else ""
        return f"/overlaps?page={number}{size}"

    return Template(
        template_name="overlaps/list.html",
        context={
            **layout_context(request),
            "page": found,
            "links": page_links(found, url),
            "min_share": parcel_overlaps.min_share(),
            "may_rescan": user is not None and Role(user.role) in COLLATERAL_WRITERS,
            "report": report,
        },
    )


class OverlapPagesController(Controller):
    path = "/overlaps"

    @get(name="pages:overlaps", opt=roles(REGISTRY_READERS))
    async def overlaps(
        self, request: Request[Any, Any, Any], paging: NamedDependency[Paging], fmt: CsvFormat = "html"
    ) -> Template | Stream:
        if fmt == "csv":
            rows = every_page(parcel_overlaps.list_overlaps)
            return csv_stream("parcel-overlaps.csv", OVERLAP_HEADER, rows, overlap_row)
        return await _page(request, paging)

    @post("/rescan", name="pages:overlaps-rescan", opt=roles(COLLATERAL_WRITERS), status_code=200)
    async def rescan(self, request: Request[Any, Any, Any]) -> Template:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        user = signed_in_user(request)
        report = await parcel_overlaps.rescan(user.username if user else "unknown")
        return await _page(request, Paging(), report)
