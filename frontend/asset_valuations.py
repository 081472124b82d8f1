"""An asset's valuations on its page: the value now (the latest approved), the history with a chart, and the
asset manager's "record a valuation" form, which submits it for a second asset manager to approve (four eyes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, get_args

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.amounts import plain_amount
from frontend.form_errors import convert_body
from frontend.record_forms import RecordForm, read_form
from frontend.templating import signed_in_user
from registry import clock
from registry.auth import roles
from registry.errors import DomainError, NotFoundError
from registry.roles import COLLATERAL_WRITERS, Role
from registry.schemas.common import Paging
from valuation.schemas import ValuationMethod, ValuationRead, ValuationSubmit
from valuation.services import valuations

HISTORY_SIZE = 20
METHODS = get_args(ValuationMethod)
VALUATION_FIELDS = ("valued_on", "market_value", "forced_sale_value", "currency", "method", "appraiser")


def read_valuation(asset_ref: str, form: Mapping[str, Any]) -> tuple[RecordForm, ValuationSubmit | None]:
    out = read_form(form, VALUATION_FIELDS)
    values = out.values
    for name, missing in (
        ("valued_on", "enter the date the appraisal values the asset at"),
        ("market_value", "enter the market value"),
        ("currency", "enter the currency, e.g. CNY"),
        ("method", "choose how the asset was valued"),
        ("appraiser", "enter who appraised it"),
    ):
        if not values.get(name):
            out.add(name, missing)
    body: dict[str, Any] = {
        "asset_ref": asset_ref,
        "valued_on": values.get("valued_on", ""),
        "market_value": plain_amount(values.get("market_value", "")),
        "currency": values.get("currency", "").upper(),
        "method": values.get("method", ""),
        "appraiser": values.get("appraiser", ""),
    }
    if values.get("forced_sale_value"):
        body["forced_sale_value"] = plain_amount(values["forced_sale_value"])
    return out, convert_body(out, body, ValuationSubmit)


def _chart(history: list[ValuationRead]) -> str:
    """The approved market values, oldest first, as the chart script reads them."""
    approved = sorted((v for v in history if v.status == "approved"), key=lambda v: (v.valued_on, v.id))
    return json.dumps(
        {
            "labels": [v.valued_on.isoformat() for v in approved],
            "values": [v.market_value for v in approved],
            "currency": approved[-1].currency if approved else "",
        }
    )


async def valuation_context(
    request: Request[Any, Any, Any], asset_ref: str, form: RecordForm | None = None
) -> dict[str, Any]:
    page = await valuations.history(asset_ref, Paging(1, HISTORY_SIZE))
    today = clock.today()
    current = next((v for v in page.items if v.status == "approved" and v.valued_on <= today), None)
    user = signed_in_user(request)
    may_record = user is not None and Role(user.role) in COLLATERAL_WRITERS
    return {
        "valuations": page,
        "current_valuation": current,
        "valuation_chart": _chart(page.items),
        "may_record_valuation": may_record,
        "valuation_form": form
        or RecordForm(values={"valued_on": today.isoformat(), "currency": current.currency if current else ""}),
        "valuation_methods": METHODS,
        "recorded": request.query_params.get("recorded"),
    }


class AssetValuationPagesController(Controller):
    path = "/assets"

    @post("/{ref:str}/valuations", name="pages:asset-valuation", opt=roles(COLLATERAL_WRITERS), status_code=200)
    async def record(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        from frontend.asset_pages import asset_page_response

        form, data = read_valuation(ref, await request.form())
        if data is not None:
            user = signed_in_user(request)
            try:
                made = await valuations.submit(data, user.username if user else "")
            except NotFoundError:
                raise
            except DomainError as exc:
                status = form.refused(exc)
                return await asset_page_response(request, ref, valuation_form=form, status_code=status)
            return Redirect(path=f"/assets/{ref}?recorded={made.id}#valuations", status_code=HTTP_303_SEE_OTHER)
        return await asset_page_response(request, ref, valuation_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
