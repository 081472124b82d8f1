"""Disposal cases over HTTP (DESIGN 6's API table). Thin: the services hold the rules and transactions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter

from auctions.access import CASE_READERS, DISPOSAL_WRITERS
from auctions.rules.metrics import Grouping
from auctions.schemas.cases import (
    CaseMoveRequest,
    CaseOpen,
    CaseRead,
    CaseStateName,
    CaseSummary,
    OfferCreate,
    ProfileName,
    RoundCreate,
    RoundRead,
)
from auctions.schemas.settlement import SettlementProposal, SettlementRead, WaterfallRead, WaterfallRequest
from auctions.services import cases, metrics, offers, rounds, settlement
from registry.auth import roles
from registry.downloads import content_disposition
from registry.schemas.common import Page, Paging
from registry.schemas.misc import UserRead

OfferId = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
MetricsFormat = Annotated[Literal["json", "csv"], QueryParameter(name="format", description="json or a csv download")]


class DisposalController(Controller):
    path = "/api/disposals"
    tags = ["disposal"]

    @post(operation_id="OpenDisposalCase", name="disposals:open", opt=roles(DISPOSAL_WRITERS))
    async def open_case(self, request: Request[UserRead, Any, Any], data: JSONBody[CaseOpen]) -> CaseRead:
        """Opens a case on a lot of one owner's assets, each with an approved, non-stale appraisal (422
        otherwise); 409 when an asset is already in an open case."""
        return await cases.open_case(data, request.user.username)

    @get(operation_id="ListDisposalCases", name="disposals:list", opt=roles(CASE_READERS))
    async def list_cases(
        self,
        paging: NamedDependency[Paging],
        case_state: Annotated[CaseStateName | None, QueryParameter(name="state")] = None,
        profile: FromQuery[ProfileName | None] = None,
        asset_ref: FromQuery[str | None] = None,
        owner_ref: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
    ) -> Page[CaseSummary]:
        return await cases.list_cases(
            paging, state=case_state, profile_name=profile, asset_ref=asset_ref, owner_ref=owner_ref, q=q
        )

    @get("/metrics", operation_id="DisposalMetrics", name="disposals:metrics", opt=roles(CASE_READERS))
    async def get_metrics(self, by: FromQuery[Grouping] = "asset_kind", fmt: MetricsFormat = "json") -> Any:
        """Recovery rate, discount to appraisal, days to settlement, rounds to sale, failed-round rate and
        forfeited deposits, by asset kind, profile or month (per currency)."""
        result = await metrics.recovery_metrics(by)
        if fmt == "csv":
            return Response(
                metrics.to_csv(result),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": content_disposition(f"disposal-metrics-{by}.csv")},
            )
        return result

    @get("/{ref:str}", operation_id="GetDisposalCase", name="disposals:get", opt=roles(CASE_READERS))
    async def get_case(self, ref: FromPath[str]) -> CaseRead:
        return await cases.get_case(ref)

    @post(
        "/{ref:str}/moves",
        operation_id="MoveDisposalCase",
        name="disposals:move",
        opt=roles(DISPOSAL_WRITERS),
        status_code=200,
    )
    async def move_case(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[CaseMoveRequest]
    ) -> CaseRead:
        """start_private_sale, take_in_lieu, withdraw (once the secured loans are repaid) or close; 409 with
        the current state and the allowed moves otherwise."""
        return await cases.move_case(ref, data, request.user.username)

    @post("/{ref:str}/rounds", operation_id="ScheduleRound", name="disposals:rounds", opt=roles(DISPOSAL_WRITERS))
    async def schedule_round(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[RoundCreate]
    ) -> RoundRead:
        return await rounds.schedule_round(ref, data, request.user.username)

    @post("/{ref:str}/offers", operation_id="MakeOffer", name="disposals:offers", opt=roles(DISPOSAL_WRITERS))
    async def make_offer(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[OfferCreate]
    ) -> CaseRead:
        return await offers.make_offer(ref, data, request.user.username)

    @post(
        "/{ref:str}/offers/{offer_id:int}/accept",
        operation_id="AcceptOffer",
        name="disposals:accept-offer",
        opt=roles(DISPOSAL_WRITERS),
        status_code=200,
    )
    async def accept_offer(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], offer_id: OfferId
    ) -> CaseRead:
        """Four eyes: a disposal officer other than the one who recorded the offer accepts it."""
        return await offers.accept_offer(ref, offer_id, request.user.username)

    @post(
        "/{ref:str}/waterfall",
        operation_id="PreviewCaseWaterfall",
        name="disposals:waterfall",
        opt=roles(CASE_READERS),
        status_code=200,
    )
    async def preview_waterfall(self, ref: FromPath[str], data: JSONBody[WaterfallRequest]) -> WaterfallRead:
        """The lot's waterfall for the given gross and expenses; writes nothing."""
        return await settlement.preview_for_case(ref, data)

    @post(
        "/{ref:str}/settlement",
        operation_id="ProposeSettlement",
        name="disposals:settlement",
        opt=roles(DISPOSAL_WRITERS),
    )
    async def propose_settlement(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[SettlementProposal]
    ) -> SettlementRead:
        return await settlement.propose(ref, data, request.user.username)

    @get(
        "/{ref:str}/settlement", operation_id="GetSettlement", name="disposals:get-settlement", opt=roles(CASE_READERS)
    )
    async def get_settlement(self, ref: FromPath[str]) -> SettlementRead:
        return await settlement.read_settlement(ref)

    @post(
        "/{ref:str}/settlement/confirm",
        operation_id="ConfirmSettlement",
        name="disposals:confirm-settlement",
        opt=roles(DISPOSAL_WRITERS),
        status_code=200,
    )
    async def confirm_settlement(self, request: Request[UserRead, Any, Any], ref: FromPath[str]) -> SettlementRead:
        """Four eyes and exactly once: another disposal officer confirms; a second confirm is 409."""
        return await settlement.confirm(ref, request.user.username)
