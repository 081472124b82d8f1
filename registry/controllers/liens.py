from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from registry.auth import roles
from registry.registration import RegistrationStatus
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS
from registry.schemas.common import Page, Paging
from registry.schemas.liens import LienCreate, LienRead, LienUpdate, RegistrationMove
from registry.schemas.misc import UserRead
from registry.services import liens


class LienController(Controller):
    path = "/api/liens"
    tags = ["liens"]

    @post(operation_id="CreateLien", name="liens:create", opt=roles(COLLATERAL_WRITERS))
    async def create_lien(self, request: Request[UserRead, Any, Any], data: JSONBody[LienCreate]) -> LienRead:
        return await liens.create_lien(data, request.user.username)

    @get(operation_id="ListLiens", name="liens:list", opt=roles(REGISTRY_READERS))
    async def list_liens(
        self,
        paging: NamedDependency[Paging],
        asset_ref: FromQuery[str | None] = None,
        status: FromQuery[RegistrationStatus | None] = None,
        holder: FromQuery[str | None] = None,
        loan_ref: FromQuery[str | None] = None,
    ) -> Page[LienRead]:
        return await liens.list_liens(paging, asset_ref=asset_ref, status=status, holder=holder, loan_ref=loan_ref)

    @get("/{ref:str}", operation_id="GetLien", name="liens:get", opt=roles(REGISTRY_READERS))
    async def get_lien(self, ref: FromPath[str]) -> LienRead:
        return await liens.get_lien(ref)

    @patch("/{ref:str}", operation_id="UpdateLien", name="liens:update", opt=roles(COLLATERAL_WRITERS))
    async def update_lien(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[LienUpdate]
    ) -> LienRead:
        return await liens.update_lien(ref, data, request.user.username)

    @post(
        "/{ref:str}/registration",
        operation_id="MoveLienRegistration",
        name="liens:registration",
        opt=roles(COLLATERAL_WRITERS),
        status_code=200,
    )
    async def move_registration(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[RegistrationMove]
    ) -> LienRead:
        return await liens.move_registration(ref, data, request.user.username)
