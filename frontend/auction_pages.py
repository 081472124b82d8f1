"""The auction pages (DESIGN 6 and 10): the public listing, the bidders' auction room, and the round as the
disposal officer runs it.

- `/public/auctions` needs no sign-in (DESIGN 10: public pages live under /public/) and shows what
  /api/public/auctions shows: the lot and the round, never the owner, the borrower, a loan or a bidder's name.
  A visitor who is signed in still gets their navigation.
- `/auctions/{id}` is the room, for bidders and staff (ROUND_READERS, as GET /api/rounds/{id}); only an admitted
  bidder gets the bid form, staff read it without one. Bidders appear to everyone as aliases.
- `/auctions/{id}/manage` is the round as the case file has it: staff read it (CASE_READERS, as GET
  /api/rounds/{id}/bidders); disposal officers alone admit bidders and record a winner's default. Bidders get 403.

The live parts (price, leader, countdown, feed, minimum next bid) are kept current by static/auction-room.js from
the state the page renders and the round's event stream; its countdown runs on the server's clock. Without
JavaScript the bid form posts here, with an Idempotency-Key rendered into the form, so submitting the same form
twice places one bid.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from auctions.access import CASE_READERS, DISPOSAL_WRITERS, ROUND_READERS
from auctions.rules.profiles import profile
from auctions.schemas.public import PublicAuction
from auctions.services import bid_history, bidders, bids, case_file, public, rounds
from frontend.amounts import plain_amount
from frontend.auction_views import (
    DEPOSIT_STATUS,
    DONE,
    OPEN,
    AdmitForm,
    accepted_newest_first,
    countdown_text,
    iso,
    lot_title,
    next_minimum,
    read_admit,
    room_state,
    utc_seconds,
)
from frontend.templating import layout_context, signed_in_user
from registry.auth import PUBLIC, roles
from registry.controllers.params import RowId
from registry.errors import DomainError, InvalidInputError, NotFoundError
from registry.roles import Role
from registry.schemas.misc import UserRead

Placed = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
Done = Annotated[str | None, QueryParameter(max_length=32)]
FORMAT = {
    "iso": iso,
    "utc_seconds": utc_seconds,
    "lot_title": lot_title,
    "countdown_text": countdown_text,
    "deposit_status": DEPOSIT_STATUS,
}


async def _viewer(request: Request[Any, Any, Any]) -> UserRead | None:
    """Who is signed in, on a page that needs nobody to be (its route skips the auth middleware): the middleware's
    own checks, and any failure means an anonymous visitor rather than an error."""
    jwt_auth = request.app.state.jwt_auth
    encoded = (
        request.headers.get(jwt_auth.auth_header, "").partition(" ")[-1]
        or request.cookies.get(jwt_auth.key, "").split(" ")[-1]
    )
    if not encoded:
        return None
    try:
        token = jwt_auth.token_cls.decode(
            encoded_token=encoded, secret=jwt_auth.token_secret, algorithm=jwt_auth.algorithm
        )
    except (NotAuthorizedException, ImproperlyConfiguredException):
        return None
    user = await jwt_auth.retrieve_user_handler(token, request)
    return user if isinstance(user, UserRead) else None


def _role_in(request: Request[Any, Any, Any], allowed: frozenset[Role]) -> bool:
    user = signed_in_user(request)
    return user is not None and Role(user.role) in allowed


async def _listing_entry(round_id: int) -> PublicAuction | None:
    """The round as the public listing shows it (the lot and its appraisal); None once it dropped off the list."""
    listed = await public.public_auctions(include_closed=True)
    return next((a for a in listed if a.round_id == round_id), None)


async def _round_context(round_id: int) -> dict[str, Any]:
    rnd = await rounds.get_round(round_id)  # NotFoundError: the 404 page; a read after the end closes it first
    case = await case_file.case_row(rnd.case_ref)
    # Of the case row only the currency and the rules: the owner's name it also carries never reaches a page here.
    currency, prof = case["currency"], profile(case["profile"])
    seats = await bidders.list_bidders(round_id)
    every = await bid_history.bids_of(round_id, None, currency)
    return {
        "rnd": rnd,
        "currency": currency,
        "profile": prof,
        "listing": await _listing_entry(round_id),
        "seats": seats,
        "every": every,
        "feed": accepted_newest_first(every),
        "is_open": rnd.status in OPEN,
    }


async def room_page(
    request: Request[Any, Any, Any],
    round_id: int,
    *,
    bid_error: str | None = None,
    typed: str = "",
    placed: int | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    ctx = await _round_context(round_id)
    rnd, currency, prof, seats = ctx["rnd"], ctx["currency"], ctx["profile"], ctx["seats"]
    user = signed_in_user(request)
    is_bidder = user is not None and user.role == Role.BIDDER.value
    seat = next((s for s in seats if is_bidder and user is not None and s.username == user.username), None)
    own = list(reversed(await bid_history.bids_of(round_id, user.username, currency))) if seat and user else []
    accepted = next((b for b in own if b.bid_id == placed and b.accepted), None) if placed else None
    rank = seat.preemption_rank if seat else None
    # Only the bidder's own seat and the aliases: the other bidders' usernames never reach this page.
    state = room_state(
        rnd,
        currency,
        prof.soft_close_minutes,
        ctx["feed"],
        view="bidder" if is_bidder else "staff",
        seat=seat,
        seats=seats,
    )
    return Template(
        template_name="auctions/room.html",
        context={
            **layout_context(request),
            **FORMAT,
            "rnd": rnd,
            "currency": currency,
            "profile": prof,
            "listing": ctx["listing"],
            "feed": ctx["feed"],
            "is_open": ctx["is_open"],
            "is_bidder": is_bidder,
            "is_staff": _role_in(request, CASE_READERS),
            "seat": seat,
            "own": own,
            "minimum": next_minimum(rnd, currency, prof.soft_close_minutes, seats, rank),
            "state": state,
            "bid_error": bid_error,
            "typed": typed,
            "accepted": accepted,
            "idempotency_key": uuid.uuid4().hex,
        },
        status_code=status_code,
    )


async def manage_page(
    request: Request[Any, Any, Any],
    round_id: int,
    *,
    form: AdmitForm | None = None,
    alert: str | None = None,
    done: str | None = None,
    status_code: int = HTTP_200_OK,
) -> Template:
    ctx = await _round_context(round_id)
    rnd, seats = ctx["rnd"], ctx["seats"]
    usernames = {s.alias: s.username for s in seats}
    state = room_state(rnd, ctx["currency"], ctx["profile"].soft_close_minutes, ctx["feed"], view="manage", seats=seats)
    return Template(
        template_name="auctions/manage.html",
        context={
            **layout_context(request),
            **FORMAT,
            **ctx,
            "every": list(reversed(ctx["every"])),
            "usernames": usernames,
            "winner": next((s for s in seats if s.alias == rnd.leader), None)
            if rnd.status in ("sold", "defaulted")
            else None,
            "may_act": _role_in(request, DISPOSAL_WRITERS),
            "form": form or AdmitForm(),
            "alert": alert,
            "done": DONE.get(done or ""),
            "state": state,
        },
        status_code=status_code,
    )


class AuctionPagesController(Controller):
    path = "/"

    @get("/public/auctions", name="pages:public-auctions", opt=PUBLIC)
    async def listing(self, request: Request[Any, Any, Any]) -> Template:
        viewer = await _viewer(request)
        if viewer is not None:
            request.scope["user"] = viewer  # for the layout's navigation only; the route stays public
        auctions = await public.public_auctions()
        return Template(
            template_name="auctions/listing.html",
            context={
                **layout_context(request),
                **FORMAT,
                "auctions": auctions,
                "is_staff": viewer is not None and Role(viewer.role) in CASE_READERS,
            },
        )

    @get("/auctions/{round_id:int}", name="pages:auction-room", opt=roles(ROUND_READERS))
    async def room(self, request: Request[Any, Any, Any], round_id: RowId, placed: Placed = None) -> Template:
        return await room_page(request, round_id, placed=placed)

    @post("/auctions/{round_id:int}/bids", name="pages:auction-bid", opt=roles(Role.BIDDER), status_code=HTTP_200_OK)
    async def bid(self, request: Request[Any, Any, Any], round_id: RowId) -> Template | Redirect:
        """The bid form without JavaScript (the script posts to the JSON API instead). The session cookie is
        SameSite=Strict, so another site cannot make a signed-in browser post this."""
        form = await request.form()
        typed = str(form.get("amount") or "").strip()[:40]
        key = str(form.get("idempotency_key") or "").strip()[:128] or None
        user = signed_in_user(request)
        try:
            status, body = await bids.place_bid(round_id, plain_amount(typed), user.username if user else "", key)
        except NotFoundError:
            raise
        except InvalidInputError as exc:  # not an amount at all: nothing was kept
            reason = "; ".join(r for _, r in exc.errors)
            return await room_page(request, round_id, bid_error=reason, typed=typed, status_code=exc.status_code)
        if status == 201:
            return Redirect(path=f"/auctions/{round_id}?placed={body['bid_id']}", status_code=HTTP_303_SEE_OTHER)
        return await room_page(request, round_id, bid_error=str(body["detail"]), typed=typed, status_code=status)

    @get("/auctions/{round_id:int}/manage", name="pages:auction-manage", opt=roles(CASE_READERS))
    async def manage(self, request: Request[Any, Any, Any], round_id: RowId, done: Done = None) -> Template:
        return await manage_page(request, round_id, done=done)

    @post(
        "/auctions/{round_id:int}/bidders",
        name="pages:auction-admit",
        opt=roles(DISPOSAL_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def admit(self, request: Request[Any, Any, Any], round_id: RowId) -> Template | Redirect:
        form, data = read_admit(await request.form())
        if data is None:
            return await manage_page(request, round_id, form=form, status_code=HTTP_422_UNPROCESSABLE_ENTITY)
        user = signed_in_user(request)
        try:
            await bidders.register_bidder(round_id, data, user.username if user else "")
        except NotFoundError:
            raise
        except InvalidInputError as exc:
            form.refused(exc.errors)
            return await manage_page(request, round_id, form=form, status_code=exc.status_code)
        except DomainError as exc:  # already admitted, or the round has ended (409): said above the form
            form.general.append(exc.detail)
            return await manage_page(request, round_id, form=form, status_code=exc.status_code)
        return Redirect(path=f"/auctions/{round_id}/manage?done=admitted", status_code=HTTP_303_SEE_OTHER)

    @post(
        "/auctions/{round_id:int}/default",
        name="pages:auction-default",
        opt=roles(DISPOSAL_WRITERS),
        status_code=HTTP_200_OK,
    )
    async def winner_defaulted(self, request: Request[Any, Any, Any], round_id: RowId) -> Template | Redirect:
        user = signed_in_user(request)
        try:
            await bidders.winner_defaulted(round_id, user.username if user else "")
        except NotFoundError:
            raise
        except DomainError as exc:  # not sold, or the case moved on (409)
            return await manage_page(request, round_id, alert=exc.detail, status_code=exc.status_code)
        return Redirect(path=f"/auctions/{round_id}/manage?done=defaulted", status_code=HTTP_303_SEE_OTHER)
