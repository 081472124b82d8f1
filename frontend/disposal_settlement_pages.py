"""The money side of a disposal case (DESIGN 7): the waterfall preview any member of staff may run, the
settlement one disposal officer proposes and another confirms (four eyes), the printable statement that is
the case file's record, and the recovery metrics across cases."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from auctions.access import CASE_READERS, DISPOSAL_WRITERS
from auctions.rules.metrics import GROUPINGS
from auctions.rules.profiles import profile
from auctions.schemas.cases import CaseRead
from auctions.schemas.settlement import SettlementRead, WaterfallRead
from auctions.services import cases, metrics, settlement
from auctions.services.settlement import CONFIRMED, PROPOSED, SETTLEABLE
from frontend.coverage_pages import percent
from frontend.disposal_forms import EXPENSE_KINDS, EXPENSE_ROWS, WATERFALL_ORDERS, DisposalForm, read_settlement
from frontend.disposal_forms import read_waterfall as read_waterfall_form
from frontend.disposal_pages import may_act, username
from frontend.disposal_views import DONE, gross_of_sale, group_name, metrics_chart, waterfall_figures
from frontend.templating import amount, layout_context
from registry.auth import roles
from registry.errors import DomainError, NotFoundError
from registry.schemas.misc import DocumentRead
from registry.services import documents

Done = Annotated[str | None, QueryParameter(max_length=32)]
FORM_CHOICES = {"row_numbers": range(EXPENSE_ROWS), "expense_kinds": EXPENSE_KINDS, "orders": WATERFALL_ORDERS}


def _preview_defaults(case: CaseRead) -> DisposalForm:
    """The gross a preview starts from: the sale's, once there is one, else the lot's appraisal."""
    gross = gross_of_sale(case) or case.appraisal
    return DisposalForm(values={"gross_proceeds": amount(gross), "profile": profile(case.profile).waterfall_order})


async def _waterfall_page(
    request: Request[Any, Any, Any],
    case: CaseRead,
    form: DisposalForm,
    result: WaterfallRead | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    return Template(
        template_name="disposals/waterfall.html",
        context={
            **layout_context(request),
            **FORM_CHOICES,
            "case": case,
            "profile": profile(case.profile),
            "form": form,
            "result": result,
            "figures": waterfall_figures(result) if result is not None else None,
        },
        status_code=status_code,
    )


async def _settlement_of(ref: str) -> SettlementRead | None:
    try:
        return await settlement.read_settlement(ref)
    except NotFoundError as exc:
        if exc.entity != "settlement of case":
            raise
        return None


async def _settlement_page(
    request: Request[Any, Any, Any],
    ref: str,
    *,
    form: DisposalForm | None = None,
    alert: str | None = None,
    done: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    case = await cases.get_case(ref)  # NotFoundError: the 404 page
    found = await _settlement_of(ref)
    officer, me = may_act(request), username(request)
    proposed = found is not None and found.status == PROPOSED
    return Template(
        template_name="disposals/settlement.html",
        context={
            **layout_context(request),
            **FORM_CHOICES,
            "case": case,
            "profile": profile(case.profile),
            "settlement": found,
            "figures": waterfall_figures(found.waterfall) if found else None,
            "gross": gross_of_sale(case),
            "form": form or DisposalForm(),
            "may_propose": officer and case.state in SETTLEABLE,
            "may_confirm": officer and proposed and found is not None and found.proposed_by != me,
            "own_proposal": officer and proposed and found is not None and found.proposed_by == me,
            "confirmed": found is not None and found.status == CONFIRMED,
            "alert": alert,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


async def _documents(found: SettlementRead) -> dict[int, DocumentRead | None]:
    out: dict[int, DocumentRead | None] = {}
    for ids in found.expense_documents:
        for document_id in ids:
            if document_id not in out:
                try:
                    out[document_id] = await documents.get_document(document_id)
                except NotFoundError:
                    out[document_id] = None
    return out


class DisposalSettlementPagesController(Controller):
    path = "/disposals"

    @get("/metrics", name="pages:disposal-metrics", opt=roles(CASE_READERS))
    async def metrics_page(
        self, request: Request[Any, Any, Any], by: Annotated[str, QueryParameter(max_length=32)] = "asset_kind"
    ) -> Template:
        grouping = next((g for g in GROUPINGS if g == by), None)
        if grouping is None:
            raise ValidationException(detail=f"by: unknown value {by!r}; one of {', '.join(GROUPINGS)}")
        result = await metrics.recovery_metrics(grouping)
        return Template(
            template_name="disposals/metrics.html",
            context={
                **layout_context(request),
                "by": by,
                "groupings": GROUPINGS,
                "result": result,
                "chart": metrics_chart(result),
                "percent": percent,
                "group_name": group_name,
            },
        )

    @get("/{ref:str}/waterfall", name="pages:disposal-waterfall", opt=roles(CASE_READERS))
    async def waterfall_form(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template:
        case = await cases.get_case(ref)
        return await _waterfall_page(request, case, _preview_defaults(case))

    @post("/{ref:str}/waterfall", name="pages:disposal-waterfall-run", opt=roles(CASE_READERS), status_code=HTTP_200_OK)
    async def waterfall_run(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template:
        # Writes nothing: any member of staff may run it.
        case = await cases.get_case(ref)
        form, data = read_waterfall_form(await request.form())
        if data is None:
            return await _waterfall_page(request, case, form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            result = await settlement.preview_for_case(ref, data)
        except NotFoundError:
            raise
        except DomainError as exc:
            status = form.refused(exc)
            return await _waterfall_page(request, case, form, status_code=status)
        return await _waterfall_page(request, case, form, result)

    @get("/{ref:str}/settlement", name="pages:disposal-settlement", opt=roles(CASE_READERS))
    async def settlement_page(self, request: Request[Any, Any, Any], ref: FromPath[str], done: Done = None) -> Template:
        return await _settlement_page(request, ref, done=done)

    @post(
        "/{ref:str}/settlement",
        name="pages:disposal-settlement-propose",
        opt=roles(DISPOSAL_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def propose(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        form, data = read_settlement(await request.form())
        if data is None:
            return await _settlement_page(request, ref, form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            await settlement.propose(ref, data, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:
            status = form.refused(exc)
            return await _settlement_page(request, ref, form=form, status_code=status)
        return Redirect(path=f"/disposals/{ref}/settlement?done=proposed", status_code=HTTP_303_SEE_OTHER)

    @post(
        "/{ref:str}/settlement/confirm",
        name="pages:disposal-settlement-confirm",
        opt=roles(DISPOSAL_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def confirm(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        try:
            await settlement.confirm(ref, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:  # four eyes (403), already settled or nothing proposed (409)
            return await _settlement_page(request, ref, alert=exc.detail, status_code=exc.status_code)
        return Redirect(path=f"/disposals/{ref}/settlement?done=confirmed", status_code=HTTP_303_SEE_OTHER)

    @get("/{ref:str}/statement", name="pages:disposal-statement", opt=roles(CASE_READERS))
    async def statement(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template:
        case = await cases.get_case(ref)
        found = await settlement.read_settlement(ref)  # none yet: the 404 page says so
        return Template(
            template_name="disposals/statement.html",
            context={
                **layout_context(request),
                "case": case,
                "profile": profile(case.profile),
                "settlement": found,
                "figures": waterfall_figures(found.waterfall),
                "documents": await _documents(found),
                "in_lieu": case.sale_kind == "in_lieu",
            },
        )
