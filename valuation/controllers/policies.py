"""Policies per asset kind: anyone who reads the registry may read them; only admins change them."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.params import FromPath, JSONBody

from registry.auth import roles
from registry.roles import ADMINS, REGISTRY_READERS
from registry.schemas.misc import UserRead
from valuation.schemas import PolicyRead, PolicyWrite
from valuation.services import policies


class PolicyController(Controller):
    path = "/api/policies"
    tags = ["valuation"]

    @get(operation_id="ListPolicies", name="policies:list", opt=roles(REGISTRY_READERS))
    async def list_policies(self) -> list[PolicyRead]:
        """Every asset kind that has a policy, by kind."""
        return await policies.list_policies()

    @put("/{kind:str}", operation_id="PutPolicy", name="policies:put", opt=roles(ADMINS))
    async def put_policy(
        self, request: Request[UserRead, Any, Any], kind: FromPath[str], data: JSONBody[PolicyWrite]
    ) -> PolicyRead:
        """Create or replace the policy of one asset kind."""
        return await policies.put_policy(kind, data, request.user.username)
