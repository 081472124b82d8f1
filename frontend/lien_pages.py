"""A lien's page: its registration workflow as buttons, the loans it secures and its documents.

The buttons are the moves registry.registration allows from the lien's status (frontend.record_views), shown to
asset managers and admins, who may make them; other readers see the workflow without buttons. "Renew" sets a new
expiry date on a registered lien. A refusal comes back on the lien page with its status; a move that went through
redirects (303) back to it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from frontend.loan_pages import role_of, username
from frontend.record_forms import RecordForm, read_registration, read_renewal
from frontend.record_views import DONE, may_renew, move_buttons
from frontend.templating import label, layout_context
from registry.auth import roles
from registry.errors import DomainError, NotFoundError, StateConflictError
from registry.registration import ALLOWED_MOVES, RegistrationStatus
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS
from registry.schemas.common import Paging
from registry.services import documents, liens, loans
from registry.services.assets import get_asset

MAX_LOANS = 50
MAX_DOCUMENTS = 100
Done = Annotated[str | None, QueryParameter(max_length=32)]
# The workflow drawn on the page, in the order a lien lives it.
STAGES = ("draft", "submitted", "registered", "released")


def lien_url(ref: str, done: str | None = None) -> str:
    return f"/liens/{ref}" + (f"?{urlencode({'done': done})}" if done else "")


def conflict_words(exc: StateConflictError, to: str) -> str:
    """A refused move as the desk says it: where the lien stands and what it can do from there."""
    if exc.current is None:
        return exc.detail
    allowed = [label(s) for s in exc.allowed]
    now = f"This lien is {label(exc.current).lower()}, so it cannot be {label(to).lower() or 'moved'}"
    if not allowed:
        return f"{now}: it is final and takes no further move."
    return f"{now}; from here it can be {' or '.join(a.lower() for a in allowed)}."


async def lien_page(
    request: Request[Any, Any, Any],
    ref: str,
    *,
    move_form: RecordForm | None = None,
    renew_form: RecordForm | None = None,
    alert: str | None = None,
    done: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    lien = await liens.get_lien(ref)  # NotFoundError: the 404 page
    asset = await get_asset(lien.asset_ref)
    secured = [await loans.get_loan(loan_ref) for loan_ref in lien.loan_refs[:MAX_LOANS]]
    evidence = await documents.list_documents(Paging(1, MAX_DOCUMENTS), entity="lien", entity_ref=ref)
    may_move = role_of(request) in COLLATERAL_WRITERS
    form = move_form or RecordForm()
    open_move = form.values.get("to") if not form.ok else None
    defaults = {
        "registration_number": lien.registration_number,
        "authority": lien.authority,
        "expires_on": lien.expires_on.isoformat() if lien.expires_on else "",
    }
    moves = move_buttons(lien.status)
    move_forms = {m.to: form if m.to == open_move else RecordForm(values=dict(defaults)) for m in moves}
    return Template(
        template_name="records/lien.html",
        context={
            **layout_context(request),
            "lien": lien,
            "asset": asset,
            "secured": secured,
            "more_loans": len(lien.loan_refs) - len(secured),
            "documents": evidence,
            "may_move": may_move,
            "moves": moves,
            "move_forms": move_forms,
            "may_renew": may_renew(lien.status),
            "move_form": form,
            "open_move": open_move,
            "renew_form": renew_form or RecordForm(values={"expires_on": defaults["expires_on"]}),
            "stages": STAGES,
            "final": not ALLOWED_MOVES[RegistrationStatus(lien.status)],
            "alert": alert,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


class LienPagesController(Controller):
    path = "/liens"

    @get("/{ref:str}", name="pages:lien", opt=roles(REGISTRY_READERS))
    async def lien(self, request: Request[Any, Any, Any], ref: FromPath[str], done: Done = None) -> Template:
        return await lien_page(request, ref, done=done)

    @post("/{ref:str}/registration", name="pages:lien-move", opt=roles(COLLATERAL_WRITERS), status_code=HTTP_200_OK)
    async def move(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        form, data = read_registration(await request.form())
        if data is None:
            return await lien_page(request, ref, move_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            moved = await liens.move_registration(ref, data, username(request))
        except NotFoundError:
            raise
        except StateConflictError as exc:  # the lien is not where the button assumed (another user moved it)
            alert = conflict_words(exc, data.to)
            return await lien_page(request, ref, alert=alert, status_code=exc.status_code)
        except DomainError as exc:
            status = form.refused(exc)
            return await lien_page(request, ref, move_form=form, status_code=status)
        return Redirect(path=lien_url(ref, moved.status), status_code=HTTP_303_SEE_OTHER)

    @post("/{ref:str}/renewal", name="pages:lien-renew", opt=roles(COLLATERAL_WRITERS), status_code=HTTP_200_OK)
    async def renew(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        form, data = read_renewal(await request.form())
        if data is None:
            return await lien_page(request, ref, renew_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        current = await liens.get_lien(ref)
        if not may_renew(current.status):
            alert = f"Only a registered lien can be renewed; this one is {label(current.status).lower()}."
            return await lien_page(request, ref, alert=alert, status_code=409)
        try:
            await liens.update_lien(ref, data, username(request))
        except NotFoundError:
            raise
        except StateConflictError as exc:
            return await lien_page(request, ref, alert=exc.detail, status_code=exc.status_code)
        except DomainError as exc:
            status = form.refused(exc)
            return await lien_page(request, ref, renew_form=form, status_code=status)
        return Redirect(path=lien_url(ref, "renewed"), status_code=HTTP_303_SEE_OTHER)
