from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from registry.auth import roles
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS, Role
from registry.schemas.common import Page, Paging
from registry.schemas.misc import UserRead
from registry.schemas.parties import PartyCreate, PartyKind, PartyRead, PartyStatus, PartyUpdate
from registry.services import parties


def _role(request: Request[UserRead, Any, Any]) -> Role:
    return Role(request.user.role)


class PartyController(Controller):
    path = "/api/parties"
    tags = ["parties"]

    @post(operation_id="CreateParty", name="parties:create", opt=roles(COLLATERAL_WRITERS))
    async def create_party(self, request: Request[UserRead, Any, Any], data: JSONBody[PartyCreate]) -> PartyRead:
        return await parties.create_party(data, request.user.username, _role(request))

    @get(operation_id="ListParties", name="parties:list", opt=roles(REGISTRY_READERS))
    async def list_parties(
        self,
        request: Request[UserRead, Any, Any],
        paging: NamedDependency[Paging],
        q: FromQuery[str | None] = None,
        kind: FromQuery[PartyKind | None] = None,
        status: FromQuery[PartyStatus | None] = None,
    ) -> Page[PartyRead]:
        return await parties.list_parties(paging, _role(request), q=q, kind=kind, status=status)

    @get("/{ref:str}", operation_id="GetParty", name="parties:get", opt=roles(REGISTRY_READERS))
    async def get_party(self, request: Request[UserRead, Any, Any], ref: FromPath[str]) -> PartyRead:
        return await parties.get_party(ref, _role(request))

    @patch("/{ref:str}", operation_id="UpdateParty", name="parties:update", opt=roles(COLLATERAL_WRITERS))
    async def update_party(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[PartyUpdate]
    ) -> PartyRead:
        return await parties.update_party(ref, data, request.user.username, _role(request))
