"""A borrower's page: every loan, every asset it owns or has pledged for its loans, and the group's exposure per
currency (the sum of its live loans' balances, never adding currencies). Identity numbers are masked as in the
API, by role."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import FromPath
from litestar.response import Template

from frontend.loan_pages import role_of
from frontend.paging import page_links
from frontend.templating import layout_context
from registry.auth import roles
from registry.controllers.params import PageNumber
from registry.roles import REGISTRY_READERS, Role
from registry.schemas.common import Paging
from registry.services import records
from registry.services.assets import list_assets
from registry.services.loans import list_loans
from registry.services.parties import get_party

PAGE_SIZE = 25


def party_url(ref: str, page: int, asset_page: int, anchor: str) -> str:
    params = [(name, n) for name, n in (("page", page), ("asset_page", asset_page)) if n > 1]
    return f"/parties/{ref}" + (f"?{urlencode(params)}" if params else "") + f"#{anchor}"


class PartyPagesController(Controller):
    path = "/parties"

    @get("/{ref:str}", name="pages:party", opt=roles(REGISTRY_READERS))
    async def party(
        self, request: Request[Any, Any, Any], ref: FromPath[str], page: PageNumber = 1, asset_page: PageNumber = 1
    ) -> Template:
        party = await get_party(ref, role_of(request) or Role.CREDIT_OFFICER)  # NotFoundError: the 404 page
        loans = await list_loans(Paging(page, PAGE_SIZE), borrower_ref=ref)
        owned = await list_assets(Paging(asset_page, PAGE_SIZE), owner_ref=ref)
        pledged, cut = await records.pledged_assets(party.id)
        return Template(
            template_name="records/party.html",
            context={
                **layout_context(request),
                "party": party,
                "exposure": await records.group_exposure(party.id),
                "closed_statuses": records.CLOSED_LOAN_STATUSES,
                "loans": loans,
                "loan_links": page_links(loans, lambda n: party_url(ref, n, asset_page, "loans")),
                "owned": owned,
                "owned_links": page_links(owned, lambda n: party_url(ref, page, n, "owned")),
                "pledged": pledged,
                "pledged_cut": cut,
                "max_pledged": records.MAX_PLEDGED_ASSETS,
            },
        )
