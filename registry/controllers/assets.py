from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from registry.auth import roles
from registry.roles import COLLATERAL_WRITERS, REGISTRY_READERS
from registry.schemas.assets import AssetCreate, AssetDetail, AssetKind, AssetRead, AssetStatus, AssetUpdate
from registry.schemas.common import Page, Paging
from registry.schemas.misc import UserRead
from registry.services import assets


class AssetController(Controller):
    path = "/api/assets"
    tags = ["assets"]

    @post(operation_id="CreateAsset", name="assets:create", opt=roles(COLLATERAL_WRITERS))
    async def create_asset(self, request: Request[UserRead, Any, Any], data: JSONBody[AssetCreate]) -> AssetRead:
        return await assets.create_asset(data, request.user.username)

    @get(operation_id="ListAssets", name="assets:list", opt=roles(REGISTRY_READERS))
    async def list_assets(
        self,
        paging: NamedDependency[Paging],
        q: FromQuery[str | None] = None,
        kind: FromQuery[AssetKind | None] = None,
        status: FromQuery[AssetStatus | None] = None,
        owner_ref: FromQuery[str | None] = None,
    ) -> Page[AssetRead]:
        return await assets.list_assets(paging, q=q, kind=kind, status=status, owner_ref=owner_ref)

    @get("/{ref:str}", operation_id="GetAsset", name="assets:get", opt=roles(REGISTRY_READERS))
    async def get_asset(self, ref: FromPath[str]) -> AssetDetail:
        return await assets.get_asset(ref)

    @patch("/{ref:str}", operation_id="UpdateAsset", name="assets:update", opt=roles(COLLATERAL_WRITERS))
    async def update_asset(
        self, request: Request[UserRead, Any, Any], ref: FromPath[str], data: JSONBody[AssetUpdate]
    ) -> AssetRead:
        return await assets.update_asset(ref, data, request.user.username)
