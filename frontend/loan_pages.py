"""A loan's page (DESIGN 4): balances by component, the ledger with its reversals, status, classification and
maturity, the liens securing it with their rank, and a link to its coverage explanation. Credit officers (and
admins) also get the posting and status forms and a reversal button per posting; every other reader sees the
same page without them, and the routes that change anything refuse them.

A refusal comes back on the loan page, beside the control it is about, with the refusal's status; a change that
went through redirects (303) back to the page, so a reload never repeats it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.coverage_pages import percent
from frontend.paging import page_links
from frontend.record_forms import (
    CLASSIFICATIONS,
    LOAN_STATUSES,
    POSTING_KINDS,
    RecordForm,
    plain_words,
    read_loan_status,
    read_posting,
    read_reversal,
)
from frontend.record_views import DONE
from frontend.templating import layout_context, signed_in_user
from registry import clock
from registry.auth import roles
from registry.controllers.params import RowId, paging_provider
from registry.errors import DomainError, InvalidInputError, NotFoundError
from registry.ledger_rules import BALANCE_COMPONENTS
from registry.roles import LOAN_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import Paging
from registry.services import liens, loans
from registry.services.parties import get_party

LEDGER_PAGE_SIZE = 25
MAX_LIENS = 200  # a loan secured by more liens than this is a data problem; the first ones are listed
Done = Annotated[str | None, QueryParameter(max_length=32)]


def role_of(request: Request[Any, Any, Any]) -> Role | None:
    user = signed_in_user(request)
    return Role(user.role) if user else None


def username(request: Request[Any, Any, Any]) -> str:
    user = signed_in_user(request)
    return user.username if user else ""


def loan_url(ref: str, done: str | None = None, anchor: str = "") -> str:
    return f"/loans/{ref}" + (f"?{urlencode({'done': done})}" if done else "") + (f"#{anchor}" if anchor else "")


def _status_defaults(loan: Any) -> RecordForm:
    return RecordForm(
        values={
            "status": loan.status,
            "classification": loan.classification,
            "maturity": loan.maturity.isoformat() if loan.maturity else "",
        }
    )


async def loan_page(
    request: Request[Any, Any, Any],
    ref: str,
    paging: Paging,
    *,
    posting_form: RecordForm | None = None,
    status_form: RecordForm | None = None,
    ledger_alert: tuple[int, str] | None = None,
    done: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    loan = await loans.get_loan(ref)  # NotFoundError: the 404 page
    role = role_of(request)
    borrower = await get_party(loan.borrower_ref, role or Role.AUDITOR)
    ledger = await loans.list_postings(ref, paging, newest_first=True)
    reversed_by = await loans.reversed_postings([p.id for p in ledger.items])
    securing = await liens.list_liens(Paging(1, MAX_LIENS), loan_ref=ref)
    return Template(
        template_name="records/loan.html",
        context={
            **layout_context(request),
            "loan": loan,
            "borrower": borrower,
            "rate": percent(loan.interest_rate) if loan.interest_rate else None,
            "ledger": ledger,
            "ledger_links": page_links(ledger, lambda n: f"/loans/{ref}?page={n}#ledger"),
            "reversed_by": reversed_by,
            "liens": securing,
            "components": BALANCE_COMPONENTS,
            "may_write": role in LOAN_WRITERS,
            "posting_form": posting_form or RecordForm(values={"value_date": clock.today().isoformat()}),
            "status_form": status_form or _status_defaults(loan),
            "posting_kinds": POSTING_KINDS,
            "loan_statuses": LOAN_STATUSES,
            "classifications": CLASSIFICATIONS,
            "ledger_alert": ledger_alert,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


class LoanPagesController(Controller):
    path = "/loans"
    dependencies = {"paging": paging_provider(LEDGER_PAGE_SIZE, sized=False)}

    @get("/{ref:str}", name="pages:loan", opt=roles(REGISTRY_READERS))
    async def loan(
        self, request: Request[Any, Any, Any], ref: FromPath[str], paging: NamedDependency[Paging], done: Done = None
    ) -> Template:
        return await loan_page(request, ref, paging, done=done)

    @post("/{ref:str}/postings", name="pages:loan-post", opt=roles(LOAN_WRITERS), status_code=HTTP_200_OK)
    async def add_posting(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        form, data = read_posting(await request.form())
        if data is None:
            return await loan_page(
                request, ref, Paging(1, LEDGER_PAGE_SIZE), posting_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY
            )
        try:
            await loans.add_posting(ref, data, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:
            status = form.refused(exc)
            return await loan_page(request, ref, Paging(1, LEDGER_PAGE_SIZE), posting_form=form, status_code=status)
        return Redirect(path=loan_url(ref, "posted", "ledger"), status_code=HTTP_303_SEE_OTHER)

    @post(
        "/{ref:str}/postings/{posting_id:int}/reversal",
        name="pages:loan-reverse",
        opt=roles(LOAN_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def reverse(
        self, request: Request[Any, Any, Any], ref: FromPath[str], posting_id: RowId
    ) -> Template | Redirect:
        memo = read_reversal(await request.form())
        try:
            await loans.reverse_posting(ref, posting_id, memo, username(request))
        except NotFoundError as exc:
            if exc.entity == "loan":
                raise
            alert = (posting_id, f"Posting {posting_id} is not on this loan's ledger.")
            return await loan_page(request, ref, Paging(1, LEDGER_PAGE_SIZE), ledger_alert=alert, status_code=404)
        except DomainError as exc:  # already reversed, or itself a reversal (409), or it would go below zero (422)
            detail = exc.detail
            if isinstance(exc, InvalidInputError):
                reasons = "; ".join(plain_words(r) for _, r in exc.errors)
                detail = f"This reversal cannot be made: it takes {reasons}."
            alert = (posting_id, detail)
            return await loan_page(
                request, ref, Paging(1, LEDGER_PAGE_SIZE), ledger_alert=alert, status_code=exc.status_code
            )
        return Redirect(path=loan_url(ref, "reversed", "ledger"), status_code=HTTP_303_SEE_OTHER)

    @post("/{ref:str}/status", name="pages:loan-status", opt=roles(LOAN_WRITERS), status_code=HTTP_200_OK)
    async def set_status(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        form, data = read_loan_status(await request.form())
        paging = Paging(1, LEDGER_PAGE_SIZE)
        if data is None:
            return await loan_page(request, ref, paging, status_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            await loans.update_loan(ref, data, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:
            status = form.refused(exc)
            return await loan_page(request, ref, paging, status_form=form, status_code=status)
        return Redirect(path=loan_url(ref, "status"), status_code=HTTP_303_SEE_OTHER)
