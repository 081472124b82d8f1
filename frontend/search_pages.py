"""The header's search box: any party, loan, asset or lien by ref, name, identifier or lien holder."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from frontend.loan_pages import role_of
from frontend.templating import layout_context
from registry.auth import roles
from registry.roles import REGISTRY_READERS, Role
from registry.services import search

# Longer text is cut rather than refused: a pasted paragraph still searches for its start.
Query = Annotated[str, QueryParameter(max_length=1000)]


class SearchPagesController(Controller):
    path = "/search"

    @get(name="pages:search", opt=roles(REGISTRY_READERS))
    async def search_page(self, request: Request[Any, Any, Any], q: Query = "") -> Template:
        text = q.strip()[: search.MAX_QUERY]
        found = await search.search(text, role_of(request) or Role.CREDIT_OFFICER)
        return Template(
            template_name="records/search.html",
            context={**layout_context(request), "q": text, "found": found, "limit": search.LIMIT},
        )
