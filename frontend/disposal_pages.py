"""Disposal cases (DESIGN 6): the case list, opening a case on a lot, and the case page with the officer's
moves: scheduling a round, recording and accepting private-sale offers, and the moves made by hand.

Disposal officers see the forms and buttons; every other member of staff reads the same case file without
them, and the routes that change anything refuse them. A refusal comes back on the case page, beside the
field it is about or above the actions, with the status of the refusal (422, 409, 403 for four eyes); a
change that went through redirects (303) back to the case, so a reload never repeats it."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from auctions.access import CASE_READERS, DISPOSAL_WRITERS
from auctions.rules.profiles import PROFILES, profile
from auctions.schemas.cases import CaseMoveRequest, CaseStateName
from auctions.services import cases, offers, rounds
from frontend.disposal_forms import DisposalForm, read_move, read_offer, read_open, read_round, split_refs
from frontend.disposal_views import DONE, move_buttons, round_rules
from frontend.downloads import ListFormat, csv_stream, csv_url, every_page
from frontend.list_exports import CASE_HEADER, case_row
from frontend.paging import page_links
from frontend.templating import layout_context, signed_in_user
from registry.auth import roles
from registry.controllers.params import RowId, paging_provider
from registry.errors import DomainError, InvalidInputError, NotFoundError, StateConflictError
from registry.roles import Role
from registry.schemas.common import Paging

PAGE_SIZE = 25
MAX_QUERY = 64
CASE_STATES: tuple[str, ...] = get_args(CaseStateName)
Filter = Annotated[str | None, QueryParameter(max_length=200)]


def may_act(request: Request[Any, Any, Any]) -> bool:
    user = signed_in_user(request)
    return user is not None and Role(user.role) in DISPOSAL_WRITERS


def username(request: Request[Any, Any, Any]) -> str:
    user = signed_in_user(request)
    return user.username if user else ""


def case_url(ref: str, done: str | None = None) -> str:
    return f"/disposals/{ref}" + (f"?{urlencode({'done': done})}" if done else "")


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    # The selects send "" for "any"; anything else must be a known value, not silently ignored.
    if not value:
        return None
    if value not in allowed:
        raise ValidationException(detail=f"{name}: unknown value {value!r}; one of {', '.join(allowed)}")
    return value


class CaseQuery:
    """The list's filters as the page shows them, and the URLs that keep them while paging."""

    def __init__(
        self, state: str | None, prof: str | None, asset_ref: str | None, owner_ref: str | None, q: str | None
    ) -> None:
        self.state = _choice("state", state, CASE_STATES)
        self.profile = _choice("profile", prof, tuple(PROFILES))
        self.asset_ref = (asset_ref or "").strip()[:MAX_QUERY]
        self.owner_ref = (owner_ref or "").strip()[:MAX_QUERY]
        self.q = (q or "").strip()[:MAX_QUERY]

    @property
    def filtered(self) -> bool:
        return bool(self.state or self.profile or self.asset_ref or self.owner_ref or self.q)

    def url(self, page: int = 1) -> str:
        params: list[tuple[str, str | int]] = [
            (name, value)
            for name, value in (
                ("state", self.state),
                ("profile", self.profile),
                ("asset_ref", self.asset_ref),
                ("owner_ref", self.owner_ref),
                ("q", self.q),
            )
            if value
        ]
        if page > 1:
            params.append(("page", page))
        return "/disposals" + (f"?{urlencode(params)}" if params else "")


async def case_page(
    request: Request[Any, Any, Any],
    ref: str,
    *,
    round_form: DisposalForm | None = None,
    offer_form: DisposalForm | None = None,
    alert: str | None = None,
    accept_error: tuple[int, str] | None = None,
    done: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    case = await cases.get_case(ref)  # NotFoundError: the 404 page
    prof = profile(case.profile)
    return Template(
        template_name="disposals/case.html",
        context={
            **layout_context(request),
            "case": case,
            "profile": prof,
            "may_act": may_act(request),
            "username": username(request),
            "round_form": round_form or DisposalForm(),
            "offer_form": offer_form or DisposalForm(),
            "round_rules": round_rules(case, prof),
            "moves": move_buttons(case, prof),
            "alert": alert,
            "accept_error": accept_error,
            "done": DONE.get(done or ""),
        },
        status_code=status_code,
    )


def _open_page(request: Request[Any, Any, Any], form: DisposalForm, status_code: int = HTTP_200_OK) -> Template:
    return Template(
        template_name="disposals/new.html",
        context={**layout_context(request), "form": form, "profiles": PROFILES.values()},
        status_code=status_code,
    )


class DisposalPagesController(Controller):
    path = "/disposals"
    dependencies = {"paging": paging_provider(PAGE_SIZE, sized=False)}

    @get(name="pages:disposals", opt=roles(CASE_READERS))
    async def case_list(
        self,
        request: Request[Any, Any, Any],
        paging: NamedDependency[Paging],
        case_state: Annotated[str | None, QueryParameter(name="state", max_length=32)] = None,
        profile_name: Annotated[str | None, QueryParameter(name="profile", max_length=32)] = None,
        asset_ref: Filter = None,
        owner_ref: Filter = None,
        q: Filter = None,
        fmt: Annotated[ListFormat, QueryParameter(name="format")] = "html",
    ) -> Template | Stream:
        query = CaseQuery(case_state, profile_name, asset_ref, owner_ref, q)
        listed = partial(
            cases.list_cases,
            state=query.state,
            profile_name=query.profile,
            asset_ref=query.asset_ref or None,
            owner_ref=query.owner_ref or None,
            q=query.q or None,
        )
        if fmt == "csv":
            return csv_stream("disposal-cases.csv", CASE_HEADER, every_page(listed), case_row)
        found = await listed(paging)
        return Template(
            template_name="disposals/list.html",
            context={
                **layout_context(request),
                "query": query,
                "page": found,
                "links": page_links(found, query.url),
                "states": CASE_STATES,
                "profiles": PROFILES.values(),
                "may_open": may_act(request),
                "csv_url": csv_url(query.url()),
            },
        )

    @get("/new", name="pages:disposal-new", opt=roles(DISPOSAL_WRITERS))
    async def open_form(self, request: Request[Any, Any, Any], asset_refs: Filter = None) -> Template:
        refs = ", ".join(split_refs(asset_refs or ""))
        return _open_page(request, DisposalForm(values={"asset_refs": refs, "profile": "cn-judicial-online"}))

    @post("/new", name="pages:disposal-open", opt=roles(DISPOSAL_WRITERS), status_code=HTTP_200_OK)
    async def open_case(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        # The session cookie is SameSite=Strict, so another site cannot make a signed-in browser post this.
        form, data = read_open(await request.form())
        if data is None:
            return _open_page(request, form, HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            case = await cases.open_case(data, username(request))
        except StateConflictError as exc:  # an asset already in another case: said beside the assets
            form.add("asset_refs", exc.detail)
            return _open_page(request, form, exc.status_code)
        except DomainError as exc:
            status = form.refused(exc)
            return _open_page(request, form, status)
        return Redirect(path=case_url(case.ref, "opened"), status_code=HTTP_303_SEE_OTHER)

    @get("/{ref:str}", name="pages:disposal", opt=roles(CASE_READERS))
    async def case_file(self, request: Request[Any, Any, Any], ref: FromPath[str], done: Filter = None) -> Template:
        return await case_page(request, ref, done=done)

    @post("/{ref:str}/rounds", name="pages:disposal-round", opt=roles(DISPOSAL_WRITERS), status_code=HTTP_200_OK)
    async def schedule_round(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        form, data = read_round(await request.form())
        if data is None:
            return await case_page(request, ref, round_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            await rounds.schedule_round(ref, data, username(request))
        except NotFoundError:
            raise
        except InvalidInputError as exc:
            status = form.refused(exc)
            return await case_page(request, ref, round_form=form, status_code=status)
        except DomainError as exc:  # the case moved on (409): said above the actions
            return await case_page(request, ref, round_form=form, alert=exc.detail, status_code=exc.status_code)
        return Redirect(path=case_url(ref, "round"), status_code=HTTP_303_SEE_OTHER)

    @post("/{ref:str}/offers", name="pages:disposal-offer", opt=roles(DISPOSAL_WRITERS), status_code=HTTP_200_OK)
    async def make_offer(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        form, data = read_offer(await request.form())
        if data is None:
            return await case_page(request, ref, offer_form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            await offers.make_offer(ref, data, username(request))
        except NotFoundError:
            raise
        except InvalidInputError as exc:
            status = form.refused(exc)
            return await case_page(request, ref, offer_form=form, status_code=status)
        except DomainError as exc:  # the case moved on (409): said above the actions
            return await case_page(request, ref, offer_form=form, alert=exc.detail, status_code=exc.status_code)
        return Redirect(path=case_url(ref, "offer"), status_code=HTTP_303_SEE_OTHER)

    @post(
        "/{ref:str}/offers/{offer_id:int}/accept",
        name="pages:disposal-accept-offer",
        opt=roles(DISPOSAL_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def accept_offer(
        self, request: Request[Any, Any, Any], ref: FromPath[str], offer_id: RowId
    ) -> Template | Redirect:
        try:
            await offers.accept_offer(ref, offer_id, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:  # four eyes (403), the window or the floor (422), the case moved on (409)
            return await case_page(request, ref, accept_error=(offer_id, exc.detail), status_code=exc.status_code)
        return Redirect(path=case_url(ref, "accepted"), status_code=HTTP_303_SEE_OTHER)

    @post("/{ref:str}/moves", name="pages:disposal-move", opt=roles(DISPOSAL_WRITERS), status_code=HTTP_200_OK)
    async def move(self, request: Request[Any, Any, Any], ref: FromPath[str]) -> Template | Redirect:
        to, memo = read_move(await request.form())
        try:
            data = msgspec.convert({"to": to, "memo": memo}, CaseMoveRequest)
        except msgspec.ValidationError:
            return await case_page(
                request, ref, alert=f"{to!r} is not a move a person makes", status_code=HTTP_422_UNPROCESSABLE_ENTITY
            )
        try:
            await cases.move_case(ref, data, username(request))
        except NotFoundError:
            raise
        except DomainError as exc:
            return await case_page(request, ref, alert=exc.detail, status_code=exc.status_code)
        return Redirect(path=case_url(ref, data.to), status_code=HTTP_303_SEE_OTHER)
