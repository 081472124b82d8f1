"""The valuation approval queue (four eyes, with htmx) and the revaluation worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from math import ceil
from typing import Annotated, Any, cast, get_args
from urllib.parse import urlencode

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from frontend.templating import layout_context, signed_in_user
from registry import clock
from registry.auth import roles
from registry.controllers.params import RowId
from registry.errors import DomainError
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import MAX_PAGE_SIZE, Page, Paging
from valuation.schemas import ValuationReject, WorklistReason
from valuation.services import valuations, worklist

PAGE_SIZE = 50
PageNumber = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
PageSize = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]


@dataclass
class RejectForm:
    reason: str = ""


def _pages(page: Page[Any]) -> int:
    return max(1, ceil(page.total / page.page_size))


async def _queue(request: HTMXRequest, page: int, status: str | None = None, error: str | None = None) -> Template:
    found = await valuations.list_valuations(Paging(page, PAGE_SIZE), status=valuations.SUBMITTED)
    if not found.items and page > 1:  # the last row of the last page was just decided
        page = _pages(found)
        found = await valuations.list_valuations(Paging(page, PAGE_SIZE), status=valuations.SUBMITTED)
    pages = _pages(found)
    user = signed_in_user(request)
    context = {
        **layout_context(request),
        "page": found,
        "pages": pages,
        "prev_url": f"/valuations?page={page - 1}" if page > 1 else None,
        "next_url": f"/valuations?page={page + 1}" if page < pages else None,
        "may_decide": user is not None and Role(user.role) in COLLATERAL_WRITERS,
        "username": user.username if user else "",
        "status": status,
        "error": error,
    }
    # htmx swaps only the queue; a plain request (or a history restore) gets the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    return Template(template_name="valuations/_queue.html" if partial else "valuations/queue.html", context=context)


async def _decided(request: HTMXRequest, page: int, action: Any) -> Template | Redirect:
    try:
        decided = await action
    except DomainError as exc:
        if not request.htmx:
            raise
        # Shown in place, since htmx does not swap error responses into the page.
        return await _queue(request, page, error=exc.detail)
    if not request.htmx:
        return Redirect(path=f"/valuations?page={page}", status_code=HTTP_303_SEE_OTHER)
    verb = "approved" if decided.status == valuations.APPROVED else "rejected"
    return await _queue(request, page, status=f"Valuation {decided.id} of {decided.asset_ref} {verb}.")


REASONS: tuple[str, ...] = get_args(WorklistReason)


def _worklist_url(as_of: date, within_days: int, reason: str | None, page: int, lien_page: int) -> str:
    params: list[tuple[str, str | int]] = [("as_of", as_of.isoformat()), ("within_days", within_days)]
    if reason:
        params.append(("reason", reason))
    params += [("page", page), ("lien_page", lien_page)]
    return "/worklist?" + urlencode(params)


class ValuationPagesController(Controller):
    path = "/"

    @get("/valuations", name="pages:valuations", opt=roles(REGISTRY_READERS))
    async def queue(self, request: HTMXRequest, page: PageNumber = 1) -> Template:
        return await _queue(request, page)

    @post(
        "/valuations/{valuation_id:int}/approve",
        name="pages:valuation-approve",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def approve(self, request: HTMXRequest, valuation_id: RowId, page: PageNumber = 1) -> Template | Redirect:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        user = signed_in_user(request)
        return await _decided(request, page, valuations.approve(valuation_id, user.username if user else ""))

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
        page: PageNumber = 1,
    ) -> Template | Redirect:
        user = signed_in_user(request)
        reason = ValuationReject(reason=data.reason[:4000])
        return await _decided(request, page, valuations.reject(valuation_id, reason, user.username if user else ""))

    @get("/worklist", name="pages:worklist", opt=roles(REGISTRY_READERS))
    async def worklist_page(
        self,
        request: HTMXRequest,
        as_of: Annotated[date | None, QueryParameter()] = None,
        within_days: Annotated[int, QueryParameter(ge=0, le=3650)] = 60,
        reason: Annotated[str | None, QueryParameter()] = None,
        page: PageNumber = 1,
        lien_page: PageNumber = 1,
    ) -> Template:
        day = as_of or clock.today()
        # The select sends "" for every reason; anything else must be a known reason, not silently ignored.
        if reason and reason not in REASONS:
            raise ValidationException(detail=f"reason: unknown value {reason!r}; one of {', '.join(REASONS)}")
        wanted = cast(WorklistReason | None, reason or None)
        assets = await worklist.assets_due(day, Paging(page, PAGE_SIZE), wanted)
        url = partial(_worklist_url, day, within_days, wanted)
        liens = await worklist.liens_expiring(day, within_days, Paging(lien_page, PAGE_SIZE))
        asset_pages, lien_pages = _pages(assets), _pages(liens)
        return Template(
            template_name="valuations/worklist.html",
            context={
                **layout_context(request),
                "as_of": day,
                "within_days": within_days,
                "assets": assets,
                "liens": liens,
                "asset_pages": asset_pages,
                "lien_pages": lien_pages,
                "reason": wanted,
                "reasons": REASONS,
                "asset_prev": url(page - 1, lien_page) if page > 1 else None,
                "asset_next": url(page + 1, lien_page) if page < asset_pages else None,
                "lien_prev": url(page, lien_page - 1) if lien_page > 1 else None,
                "lien_next": url(page, lien_page + 1) if lien_page < lien_pages else None,
            },
        )
