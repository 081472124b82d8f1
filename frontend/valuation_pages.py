"""The valuation approval queue (four eyes, with htmx) and the revaluation worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER

from frontend.downloads import ListFormat, csv_stream, every_page
from frontend.list_exports import ASSET_DUE_HEADER, LIEN_EXPIRING_HEADER, asset_due_row, lien_expiring_row
from frontend.paging import page_links
from frontend.templating import layout_context, signed_in_user
from frontend.worklist_list import ASSET_ORDERS, REASONS, Worklist
from registry import clock
from registry.auth import roles
from registry.controllers.params import PageNumber, RowId, paging_provider
from registry.errors import DomainError, StateConflictError
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import Paging
from registry.services.documents import documents_of
from valuation.comparables import Comparable, comparables
from valuation.schemas import ValuationRead, ValuationReject
from valuation.services import valuations, worklist

PAGE_SIZE = 50
Format = Annotated[ListFormat, QueryParameter(name="format")]


@dataclass
class RejectForm:
    reason: str = ""


def value_change(new: ValuationRead, old: ValuationRead | None) -> str:
    """ "+12.5%" from the approved value to the waiting one; "" when there is none to compare (or another currency)."""
    if old is None or old.currency != new.currency or not Decimal(old.market_value):
        return ""
    change = (Decimal(new.market_value) - Decimal(old.market_value)) * 100 / Decimal(old.market_value)
    shown = f"{change:+.1f}%"
    return "±0.0%" if shown in ("+0.0%", "-0.0%") else shown  # a change under 0.05% is no direction


NEARBY = 3  # comparables shown per waiting valuation; the asset page's API has them all


async def _nearby(asset_refs: list[str]) -> dict[str, list[Comparable] | str]:
    """Per asset, its nearest comparables (approved valuations of the same kind nearby), or why there are none."""
    out: dict[str, list[Comparable] | str] = {}
    for ref in asset_refs:
        try:
            found = await comparables(ref, radius_m=3000, days=730, as_of=clock.today(), paging=Paging(1, NEARBY))
        except StateConflictError:
            out[ref] = "no parcel to compare from"
            continue
        out[ref] = found.comparables.items or "none of its kind within 3 km in two years"
    return out


async def _queue(
    request: HTMXRequest,
    paging: Paging,
    status: str | None = None,
    error: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    found = await valuations.list_valuations(paging, status=valuations.SUBMITTED)
    if not found.items and found.has_prev:  # the last row of the last page was just decided
        found = await valuations.list_valuations(Paging(found.pages, PAGE_SIZE), status=valuations.SUBMITTED)
    user = signed_in_user(request)
    refs = sorted({v.asset_ref for v in found.items})
    context = {
        **layout_context(request),
        "page": found,
        # What each waiting valuation would replace, and the reports filed on its asset: what the approver weighs.
        "previous": await valuations.latest_approved(refs),
        "reports": await documents_of("asset", refs),
        "nearby": await _nearby(refs),
        "change": value_change,
        "links": page_links(found, lambda n: f"/valuations?page={n}"),
        "may_decide": user is not None and Role(user.role) in COLLATERAL_WRITERS,
        "username": user.username if user else "",
        "status": status,
        "error": error,
    }
    # htmx swaps only the queue; a plain request (or a history restore) gets the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    name = "valuations/_queue.html" if partial else "valuations/queue.html"
    # htmx swaps only a 2xx answer, so a refusal it shows in place goes out as 200; a plain post keeps its status.
    return Template(template_name=name, context=context, status_code=HTTP_200_OK if partial else status_code)


async def _decided(request: HTMXRequest, paging: Paging, action: Any) -> Template | Redirect:
    try:
        decided = await action
    except DomainError as exc:
        # Shown above the queue, in place: never an error page of its own.
        return await _queue(request, paging, error=exc.detail, status_code=exc.status_code)
    if not request.htmx:
        return Redirect(path=f"/valuations?page={paging.page}", status_code=HTTP_303_SEE_OTHER)
    verb = "approved" if decided.status == valuations.APPROVED else "rejected"
    return await _queue(request, paging, status=f"Valuation {decided.id} of {decided.asset_ref} {verb}.")


def _queue_row(v: ValuationRead) -> list[Any]:
    return [
        v.id,
        v.asset_ref,
        v.asset_kind,
        v.valued_on,
        v.market_value,
        v.forced_sale_value,
        v.currency,
        v.method,
        v.appraiser,
        v.submitted_by,
        v.submitted_at,
    ]


QUEUE_HEADER = (
    "id",
    "asset",
    "kind",
    "valued_on",
    "market_value",
    "forced_sale_value",
    "currency",
    "method",
    "appraiser",
    "submitted_by",
    "submitted_at",
)


class ValuationPagesController(Controller):
    path = "/"
    dependencies = {"paging": paging_provider(PAGE_SIZE, sized=False)}

    @get("/valuations", name="pages:valuations", opt=roles(REGISTRY_READERS))
    async def queue(
        self, request: HTMXRequest, paging: NamedDependency[Paging], fmt: Format = "html"
    ) -> Template | Stream:
        if fmt == "csv":
            rows = every_page(partial(valuations.list_valuations, status=valuations.SUBMITTED))
            return csv_stream("valuations-awaiting-approval.csv", QUEUE_HEADER, rows, _queue_row)
        return await _queue(request, paging)

    @post(
        "/valuations/{valuation_id:int}/approve",
        name="pages:valuation-approve",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def approve(
        self, request: HTMXRequest, valuation_id: RowId, paging: NamedDependency[Paging]
    ) -> Template | Redirect:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        user = signed_in_user(request)
        return await _decided(request, paging, valuations.approve(valuation_id, user.username if user else ""))

    @post(
        "/valuations/{valuation_id:int}/reject",
        name="pages:valuation-reject",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def reject(
        self,
        request: HTMXRequest,
        valuation_id: RowId,
        data: Annotated[RejectForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        paging: NamedDependency[Paging],
    ) -> Template | Redirect:
        user = signed_in_user(request)
        reason = ValuationReject(reason=data.reason[:4000])
        return await _decided(request, paging, valuations.reject(valuation_id, reason, user.username if user else ""))

    @get("/worklist", name="pages:worklist", opt=roles(REGISTRY_READERS))
    async def worklist_page(
        self,
        request: HTMXRequest,
        paging: NamedDependency[Paging],
        as_of: Annotated[date | None, QueryParameter()] = None,
        within_days: Annotated[int, QueryParameter(ge=0, le=3650)] = 60,
        reason: Annotated[str | None, QueryParameter()] = None,
        sort: Annotated[str | None, QueryParameter(max_length=32)] = None,
        lien_sort: Annotated[str | None, QueryParameter(max_length=32)] = None,
        lien_page: PageNumber = 1,
        fmt: Format = "html",
        which: Annotated[Literal["assets", "liens"], QueryParameter(name="list")] = "assets",
    ) -> Template | Stream:
        day = as_of or clock.today()
        work = Worklist.read(day, within_days, reason, sort, lien_sort, paging.page, lien_page)
        user = signed_in_user(request)
        asset_order, lien_order = work.sort.text, work.lien_sort.text
        if fmt == "csv" and which == "liens":
            lien_rows = every_page(lambda p: worklist.liens_expiring(day, within_days, p, lien_order))
            name = f"registrations-expiring-{day.isoformat()}.csv"
            return csv_stream(name, LIEN_EXPIRING_HEADER, lien_rows, lien_expiring_row)
        if fmt == "csv":
            rows = every_page(lambda p: worklist.assets_due(day, p, work.reason, asset_order))
            return csv_stream(f"assets-to-value-{day.isoformat()}.csv", ASSET_DUE_HEADER, rows, asset_due_row)
        assets = await worklist.assets_due(day, paging, work.reason, asset_order)
        liens = await worklist.liens_expiring(day, within_days, Paging(lien_page, PAGE_SIZE), lien_order)
        return Template(
            template_name="valuations/worklist.html",
            context={
                **layout_context(request),
                "work": work,
                "as_of": day,
                "within_days": within_days,
                "assets": assets,
                "liens": liens,
                "reasons": REASONS,
                "asset_orders": ASSET_ORDERS,
                "may_value": user is not None and Role(user.role) in COLLATERAL_WRITERS,
                "asset_links": page_links(assets, work.asset_page_url),
                "lien_links": page_links(liens, work.lien_page_url),
            },
        )
