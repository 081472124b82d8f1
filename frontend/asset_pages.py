"""The asset register and the asset page."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest, HTMXTemplate
from litestar.response import Stream, Template

from auctions.access import DISPOSAL_WRITERS
from auctions.services.cases import OPENABLE_ASSET_STATUSES
from frontend.asset_valuations import valuation_context
from frontend.downloads import ListFormat, csv_stream, csv_url, every_page
from frontend.paging import page_links
from frontend.parcel_map import render as render_parcel_map
from frontend.record_forms import RecordForm
from frontend.templating import layout_context, signed_in_user
from registry.auth import roles
from registry.controllers.params import paging_provider
from registry.errors import InvalidInputError
from registry.roles import REGISTRY_READERS, Role
from registry.schemas.assets import ASSET_KINDS, ASSET_STATUSES, AssetRead
from registry.schemas.common import Page, Paging
from registry.services.assets import get_asset, list_assets
from registry.services.parcel_search import neighbourhood

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
MAX_QUERY = 200


def _choice(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    # The filter selects send "" for "any"; anything else must be a known value, not silently ignored.
    if not value:
        return None
    if value not in allowed:
        raise InvalidInputError.one(field, f"unknown value {value!r}; one of {', '.join(allowed)}")
    return value


class RegisterQuery:
    """The register's filters as the page shows them, and the URLs that keep them while paging."""

    def __init__(self, q: str | None, kind: str | None, status: str | None, paging: Paging) -> None:
        self.q = (q or "").strip()[:MAX_QUERY]
        self.kind = _choice("kind", kind, ASSET_KINDS)
        self.status = _choice("status", status, ASSET_STATUSES)
        self.paging = paging
        self.page_size = paging.page_size

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.kind or self.status)

    def url(self, page: int | None = None) -> str:
        """The canonical register URL: only the filters in use, page 1 and the default size left out."""
        params: list[tuple[str, str | int]] = []
        if self.q:
            params.append(("q", self.q))
        if self.kind:
            params.append(("kind", self.kind))
        if self.status:
            params.append(("status", self.status))
        if (page := self.paging.page if page is None else page) > 1:
            params.append(("page", page))
        if self.page_size != DEFAULT_PAGE_SIZE:
            params.append(("page_size", self.page_size))
        return "/assets" + (f"?{urlencode(params)}" if params else "")


def _results_context(query: RegisterQuery, page: Page[AssetRead]) -> dict[str, Any]:
    return {"query": query, "page": page, "links": page_links(page, query.url), "csv_url": csv_url(query.url())}


REGISTER_HEADER = ("ref", "kind", "status", "owner_ref", "owner", "description", "address", "created_at")


def _register_row(a: AssetRead) -> list[Any]:
    return [a.ref, a.kind, a.status, a.owner_ref, a.owner_name, a.description, a.address, a.created_at]


def provide_register_query(
    paging: NamedDependency[Paging],
    q: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
) -> RegisterQuery:
    return RegisterQuery(q, kind, status, paging)


def _place(lat: float, lon: float) -> str:
    return f"{abs(lat):.6f}°{'N' if lat >= 0 else 'S'} {abs(lon):.6f}°{'E' if lon >= 0 else 'W'}"


class AssetPagesController(Controller):
    path = "/assets"
    dependencies = {
        "paging": paging_provider(DEFAULT_PAGE_SIZE),
        "register_query": Provide(provide_register_query, sync_to_thread=False),
    }

    @get(name="pages:assets", opt=roles(REGISTRY_READERS))
    async def asset_register(
        self,
        request: HTMXRequest,
        register_query: NamedDependency[RegisterQuery],
        fmt: Annotated[ListFormat, QueryParameter(name="format")] = "html",
    ) -> Template | Stream:
        query = register_query
        if fmt == "csv":
            rows = every_page(partial(list_assets, q=query.q or None, kind=query.kind, status=query.status))
            return csv_stream("assets.csv", REGISTER_HEADER, rows, _register_row)
        found = await list_assets(query.paging, q=query.q or None, kind=query.kind, status=query.status)
        context = _results_context(query, found)
        # The same URL answers a whole page or, to htmx, only the results; caches must keep them apart.
        headers = {"Vary": "HX-Request"}
        if request.htmx and not request.htmx.history_restore_request:
            # The form sends every field, empty ones too; push the tidy URL of what is shown instead.
            return HTMXTemplate(
                template_name="assets/_results.html", context=context, push_url=query.url(), headers=headers
            )
        return Template(
            template_name="assets/register.html",
            context={
                **layout_context(request),
                **context,
                "kinds": ASSET_KINDS,
                "statuses": ASSET_STATUSES,
                "page_sizes": sorted({*PAGE_SIZES, query.page_size}),
            },
            headers=headers,
        )

    @get("/{ref:str}", name="pages:asset", opt=roles(REGISTRY_READERS))
    async def asset_page(self, request: HTMXRequest, ref: FromPath[str]) -> Template:
        return await asset_page_response(request, ref)


async def asset_page_response(
    request: Request[Any, Any, Any], ref: str, *, valuation_form: RecordForm | None = None, status_code: int = 200
) -> Template:
    """The asset page; with a refused valuation form, that form as typed with its errors."""
    asset = await get_asset(ref)
    hood = await neighbourhood(asset.id) if asset.geometry else None
    parcel_map = render_parcel_map(hood) if hood else None
    user = signed_in_user(request)
    disposal_officer = user is not None and Role(user.role) in DISPOSAL_WRITERS
    return Template(
        template_name="assets/detail.html",
        context={
            **layout_context(request),
            **await valuation_context(request, asset.ref, valuation_form),
            "asset": asset,
            "parcel_map": parcel_map,
            "centroid": _place(asset.parcel.centroid_lat, asset.parcel.centroid_lon) if asset.parcel else "",
            "may_open_case": disposal_officer and asset.status in OPENABLE_ASSET_STATUSES,
        },
        status_code=status_code,
    )
