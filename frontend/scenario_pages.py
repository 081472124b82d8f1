"""Stress scenarios and restructuring what-ifs as forms (DESIGN 5): the page posts what was typed, the
services compute on copies of the book, and nothing is written. A form that cannot be run comes back
as typed, with each complaint next to its control, and status 422."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.coverage_pages import FORMAT, coverage_query
from frontend.map_pages import region_map_context
from frontend.scenario_forms import (
    CHANGE_FIELDS,
    CHANGE_ROWS,
    CHANGE_TYPES,
    FIELD_TYPES,
    KIND_ROWS,
    LIEN_STATUSES,
    REGION_ROWS,
    ScenarioForm,
    read_stress,
    read_whatif,
)
from frontend.templating import amount, layout_context
from registry import clock
from registry.auth import roles
from registry.errors import DomainError, InvalidInputError
from registry.roles import SCENARIO_RUNNERS
from registry.schemas.assets import ASSET_KINDS
from registry.schemas.common import MAX_PAGE, Paging
from valuation.coverage_schemas import BucketComparison, StressReport, WhatIfReport
from valuation.services import stress, whatif

CHANGED_PAGE_SIZE = 25


def change(before: str | None, after: str | None) -> str:
    """after - before as a signed amount ("-1,250.00", "+0.50"); "" when a side is missing."""
    if before is None or after is None:
        return ""
    diff = Decimal(after) - Decimal(before)
    if diff == 0:
        return "no change"
    return ("+" if diff > 0 else "-") + amount(str(abs(diff)))


HELPERS = {**FORMAT, "change": change}


def _page_number(form: Any) -> int:
    text = form.get("page")
    return min(max(int(text), 1), MAX_PAGE) if isinstance(text, str) and text.isdigit() else 1


def bucket_comparisons(buckets: list[BucketComparison]) -> list[dict[str, Any]]:
    """Per currency: the bucket rows for the table and the grouped chart's data (exposure, base and stressed)."""
    charts: dict[str, dict[str, Any]] = {}
    for row in buckets:
        chart = charts.setdefault(
            row.currency,
            {
                "currency": row.currency,
                "rows": [],
                "data": {
                    "currency": row.currency,
                    "labels": [],
                    "measure": "Exposure",
                    "series": [
                        {"label": "Base", "values": [], "loans": []},
                        {"label": "Stressed", "values": [], "loans": []},
                    ],
                },
            },
        )
        chart["rows"].append(row)
        chart["data"]["labels"].append(row.ltv_bucket)
        for series, side in zip(chart["data"]["series"], (row.base, row.stressed), strict=True):
            series["values"].append(side.exposure)
            series["loans"].append(side.loans)
    return list(charts.values())


def _scenario_page(
    request: Request[Any, Any, Any],
    template: str,
    form: ScenarioForm | None,
    extra: dict[str, Any],
    status_code: int = HTTP_200_OK,
) -> Template:
    day = form.as_of if form and form.as_of else clock.today()
    return Template(
        template_name=template,
        context={
            **layout_context(request),
            **HELPERS,
            "values": form.values if form else {"as_of": day.isoformat()},
            "errors": form.errors if form else {},
            "unplaced": form.unplaced() if form else [],
            "include_unperfected": form.include_unperfected if form else False,
            "query": coverage_query(
                day, form.include_unperfected if form else False, fx=form.values.get("fx", "") if form else ""
            ),
            "kinds": ASSET_KINDS,
            **extra,
        },
        status_code=status_code,
    )


def _refusal(form: ScenarioForm, exc: DomainError) -> int:
    """Put the service's refusal on the form; the status to answer with."""
    if isinstance(exc, InvalidInputError):
        form.refused(exc)
    else:
        form.general.append(exc.detail)
    return exc.status_code


STRESS_FORM = {"kind_rows": range(KIND_ROWS), "region_rows": range(REGION_ROWS)}
WHATIF_FORM = {
    "change_rows": range(CHANGE_ROWS),
    "change_types": CHANGE_TYPES,
    "change_fields": CHANGE_FIELDS,
    "field_types": FIELD_TYPES,
    "lien_statuses": LIEN_STATUSES,
}


def _stress_results(report: StressReport) -> dict[str, Any]:
    return {"report": report, "charts": bucket_comparisons(report.ltv_buckets)}


class ScenarioPagesController(Controller):
    path = "/coverage"

    @get("/stress", name="pages:stress", opt=roles(SCENARIO_RUNNERS))
    async def stress_form(self, request: Request[Any, Any, Any]) -> Template:
        return _scenario_page(request, "coverage/stress.html", None, {**STRESS_FORM, **await region_map_context()})

    @post("/stress", name="pages:stress-run", opt=roles(SCENARIO_RUNNERS), status_code=HTTP_200_OK)
    async def stress_run(self, request: Request[Any, Any, Any]) -> Template:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        form_data = await request.form()
        form, scenario = read_stress(form_data)
        extra = {**STRESS_FORM, **await region_map_context()}
        if scenario is None:
            return _scenario_page(request, "coverage/stress.html", form, extra, HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            report = await stress.run(scenario, Paging(_page_number(form_data), CHANGED_PAGE_SIZE))
        except DomainError as exc:
            status = _refusal(form, exc)
            return _scenario_page(request, "coverage/stress.html", form, extra, status)
        return _scenario_page(request, "coverage/stress.html", form, {**extra, **_stress_results(report)})

    @get("/what-if", name="pages:what-if", opt=roles(SCENARIO_RUNNERS))
    async def whatif_form(self, request: Request[Any, Any, Any]) -> Template:
        return _scenario_page(request, "coverage/whatif.html", None, WHATIF_FORM)

    @post("/what-if", name="pages:what-if-run", opt=roles(SCENARIO_RUNNERS), status_code=HTTP_200_OK)
    async def whatif_run(self, request: Request[Any, Any, Any]) -> Template:
        form, proposal = read_whatif(await request.form())
        if proposal is None:
            return _scenario_page(request, "coverage/whatif.html", form, WHATIF_FORM, HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            report: WhatIfReport = await whatif.run(proposal)
        except DomainError as exc:
            status = _refusal(form, exc)
            return _scenario_page(request, "coverage/whatif.html", form, WHATIF_FORM, status)
        return _scenario_page(request, "coverage/whatif.html", form, {**WHATIF_FORM, "report": report})
