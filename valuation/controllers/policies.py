"""Policies per asset kind: anyone who reads the registry may read them; only admins change them."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.params import JSONBody, PathParameter

from registry.auth import roles
from registry.roles import ADMINS, REGISTRY_READERS
from registry.schemas.assets import ASSET_KINDS
from registry.schemas.misc import UserRead
from valuation.schemas import PolicyRead, PolicyWrite
from valuation.services import policies

# The service names an unknown kind in its 422; the document lists the kinds.
PolicyKind = Annotated[str, PathParameter(schema_extra={"enum": list(ASSET_KINDS)})]


class PolicyController(Controller):
    path = "/api/policies"
    tags = ["valuation"]

    @get(operation_id="ListPolicies", name="policies:list", opt=roles(REGISTRY_READERS))
    async def list_policies(self) -> list[PolicyRead]:
        """Every asset kind that has a policy, by kind."""
        return await policies.list_policies()

    @put("/{kind:str}", operation_id="PutPolicy", name="policies:put", opt=roles(ADMINS))
    async def put_policy(
        self, request: Request[UserRead, Any, Any], kind: PolicyKind, data: JSONBody[PolicyWrite]
    ) -> PolicyRead:
        """Create or replace the policy of one asset kind."""
        return await policies.put_policy(kind, data, request.user.username)
